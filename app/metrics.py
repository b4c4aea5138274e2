"""Prometheus metrics for the API: request counts/latency and job gauges read from Redis."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter("budgie_http_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=REGISTRY)
LATENCY = Histogram("budgie_http_request_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY)
JOBS_SUBMITTED = Counter("budgie_jobs_submitted_total", "Batch jobs accepted", ["model"], registry=REGISTRY)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g._budgie_t0 = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        if hasattr(g, "_budgie_t0"):
            LATENCY.labels(endpoint).observe(time.perf_counter() - g._budgie_t0)
        return response


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
