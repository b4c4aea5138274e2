"""The Celery application: ``celery -A workers.celery_app worker -Q <queues>``."""
from celery import Celery

app = Celery(
    "budgie",
    include=["workers.prepare", "workers.transcribe", "workers.align", "workers.diarize", "workers.merge"],
)
app.config_from_object("celeryconfig")

import workers.signals  # noqa: E402,F401  (connects preload and heartbeat handlers)
