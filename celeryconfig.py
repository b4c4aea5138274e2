"""Budgie's fixed Celery policy (the same for every deployment): serialization, acknowledgement,
prefetch, events and routing by task name. The deployment-specific part (broker, backend, time limits)
comes from the settings object: see ``core.queue.make_celery``."""

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600
broker_connection_retry_on_startup = True

# A task is acknowledged after it ran; a worker that dies mid-task leaves it to be redelivered.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1

task_default_queue = "default"
task_routes = ("core.queue.route_task",)

# Flower and Prometheus exporters read task events.
worker_send_task_events = True
task_send_sent_event = True
