"""The Celery application as workers run it: ``celery -A workers.celery_app worker -Q <queues>``.

The shared app of :mod:`core.queue`, built from this process's settings, plus the stage task
modules and the worker signals.
"""

from core.queue import make_celery
from core.settings import get_settings

app = make_celery(get_settings())
app.conf.include = [
    "workers.prepare",
    "workers.transcribe",
    "workers.align",
    "workers.diarize",
    "workers.merge",
    "workers.webhooks",
]

import workers.signals  # noqa: E402,F401  (connects logging, preload and heartbeat handlers)
