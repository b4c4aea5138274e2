"""The Celery application and its routing, shared by the API (which enqueues) and the workers (which consume).

Stage tasks are addressed by name (``budgie.prepare`` ...), so the API sends them without importing a
stage module: ``celery -A workers.celery_app`` adds the task modules on the worker side. Each process
builds its app from its settings (:func:`make_celery`); ``celeryconfig`` holds the fixed policy. Routing is by
task name: ``prepare``, ``align``, ``diarize``, ``merge``, and one ``transcribe.<model-id>`` queue per model.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from core.settings import Settings

STAGE_QUEUES = {
    "budgie.prepare": "prepare",
    "budgie.align": "align",
    "budgie.diarize": "diarize",
    "budgie.merge": "merge",
}
TRANSCRIBE_TASK = "budgie.transcribe"
WEBHOOK_TASK, WEBHOOK_QUEUE = "budgie.webhook", "webhooks"  # deliveries never wait behind transcription
TRANSCRIBE_PREFIX = "transcribe."


def transcribe_queue(model_id: str) -> str:
    return f"{TRANSCRIBE_PREFIX}{model_id}"


def model_from_queue(queue: str) -> str | None:
    return queue[len(TRANSCRIBE_PREFIX) :] if queue.startswith(TRANSCRIBE_PREFIX) else None


def route_task(
    name: str, args: Any, kwargs: dict[str, Any], options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router: transcription goes to the queue of the requested model, other stages to their own."""
    if name == TRANSCRIBE_TASK:
        return {"queue": transcribe_queue(kwargs["model_id"])}
    if name in STAGE_QUEUES:
        return {"queue": STAGE_QUEUES[name]}
    if name == WEBHOOK_TASK:
        return {"queue": WEBHOOK_QUEUE}
    return None


def make_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``: the fixed policy of ``celeryconfig`` plus this deployment's broker."""
    app = Celery("budgie")
    app.config_from_object("celeryconfig")
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        # a task is redelivered if its worker dies; the visibility timeout must exceed the longest task
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        task_time_limit=settings.task_time_limit_s,
        task_soft_time_limit=settings.task_time_limit_s - 30,
    )
    return app
