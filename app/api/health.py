"""Liveness (``/health``), readiness (``/ready``) and Prometheus metrics (``/metrics``).

``/health`` answers while the process can serve HTTP; it checks nothing else, so a Redis outage never
gets healthy API processes restarted. ``/ready`` says whether a request would be worked on now: Redis
answers and a live batch worker consumes the default model's transcribe queue.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from app.auth import public
from app.extensions import redis_client, settings
from app.metrics import render
from app.services.models import served_models
from core.catalog import registry
from core.queue import transcribe_queue

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health() -> ResponseReturnValue:
    """Liveness: the process is up."""
    return {"status": "ok"}


@bp.get("/ready")
@public
def ready() -> ResponseReturnValue:
    """Readiness: Redis reachable and a live worker for the default model; otherwise 503 naming what is missing."""
    model = registry().resolve(settings().default_model).id
    checks: dict[str, Any] = {"redis": "ok", "default_model": model}
    missing: list[str] = []
    try:
        redis_client().ping()
        if model not in served_models():
            missing.append(f"worker:{transcribe_queue(model)}")
            checks["worker"] = f"no live worker consumes {transcribe_queue(model)}"
        else:
            checks["worker"] = "ok"
    except redis.RedisError as exc:
        missing.append("redis")
        checks["redis"] = f"unreachable: {exc}"
    if missing:
        return {"status": "unavailable", "missing": missing, "checks": checks}, 503
    return {"status": "ready", "checks": checks}


@bp.get("/metrics")
@public
def metrics() -> ResponseReturnValue:
    """Prometheus exposition: every API process's counters plus queue depth and jobs by state."""
    body, content_type = render()
    return Response(body, content_type=content_type)
