"""Liveness and Prometheus metrics."""

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from app.auth import public
from app.extensions import redis_client
from app.metrics import render

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health() -> ResponseReturnValue:
    """Report whether the API can reach Redis."""
    try:
        redis_client().ping()
    except Exception as exc:  # any connection failure means unhealthy
        return {"status": "unhealthy", "redis": str(exc)}, 503
    return {"status": "ok"}


@bp.get("/metrics")
@public
def metrics() -> ResponseReturnValue:
    """Expose Prometheus metrics."""
    body, content_type = render()
    return Response(body, content_type=content_type)
