"""The OpenAI-compatible surface under ``/openai/v1``: the same jobs as the native API, in OpenAI's shapes.

``OpenAI(base_url="http://host:8000/openai/v1")`` works unchanged: a transcription request submits a
native job (the same Celery chain), waits for it (``BUDGIE_OPENAI_WAIT_S``) and answers in the
requested ``response_format``; ``stream=true`` turns the job's progress into server-sent events.
"""
