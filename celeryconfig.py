"""Celery settings for Budgie: Redis broker/backend, one queue per stage (per model for transcribe).

Queues: ``prepare``, ``transcribe.<model-id>`` (GPU-pinned, one worker per GPU), ``align``,
``diarize`` (GPU-pinned) and ``merge``. Routing is by task name; see :mod:`workers.routing`.
"""
import os

_redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

broker_url = os.environ.get("CELERY_BROKER_URL", _redis)
result_backend = os.environ.get("CELERY_RESULT_BACKEND", _redis)
broker_connection_retry_on_startup = True
# A task is redelivered if its worker dies; the visibility timeout must exceed the longest task.
broker_transport_options = {"visibility_timeout": int(os.environ.get("BUDGIE_VISIBILITY_TIMEOUT_S", "7200"))}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = int(os.environ.get("BUDGIE_TASK_TIME_LIMIT_S", "3600"))
task_soft_time_limit = task_time_limit - 30

task_default_queue = "default"
task_routes = ("workers.routing.route_task",)

# Flower and Prometheus exporters read task events.
worker_send_task_events = True
task_send_sent_event = True
