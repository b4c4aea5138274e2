"""The API's metrics: per-request counting by route template, and ``/metrics`` rendering.

Under gunicorn (``gunicorn.conf.py``) every worker process writes its samples to the multiprocess
directory and a scrape, answered by any one worker, sums them all. Queue depth and jobs by state are
read from Redis at scrape time (``core.metrics.RedisStateCollector``).
"""

from __future__ import annotations

import time

import redis
from flask import Flask, Response, g, request

from app.extensions import jobs, settings
from core import metrics
from core.catalog import registry
from core.queue import STAGE_QUEUES, transcribe_queue

UNMATCHED = "<unmatched>"  # any path no route matches: one series, however many paths are probed


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g._budgie_t0 = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        if request.headers.get("Upgrade", "").lower() == "websocket":
            # the session is over when this runs: its length is not a request latency, and the
            # placeholder 200 flask-sock returns is not what happened
            metrics.HTTP_REQUESTS.labels(request.method, route, "websocket").inc()
            return response
        metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        if hasattr(g, "_budgie_t0"):
            metrics.HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - g._budgie_t0)
        return response


def broker_queues() -> list[str]:
    """Every queue a Budgie task can wait in: the stage queues and one per registered model."""
    return [*STAGE_QUEUES.values(), *(transcribe_queue(e.id) for e in registry().all())]


def render() -> tuple[bytes, str]:
    config = settings()
    broker = redis.Redis.from_url(config.broker_url, socket_timeout=2)
    try:
        state = metrics.RedisStateCollector(broker, jobs(), broker_queues())
        return metrics.render(config.metrics_dir, state)
    finally:
        broker.close()
