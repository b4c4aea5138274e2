"""Signed webhooks: what Budgie POSTs when a job ends, and how receivers verify it (docs/security.md).

The body is a JSON event; the ``Budgie-Signature`` header is ``t=<unix seconds>,v1=<hex>``, where the hex
is HMAC-SHA256 with the webhook secret over ``"<t>.<body>"``. A receiver recomputes it and rejects a
stale ``t`` (replays). Delivery is the ``budgie.webhook`` Celery task on the ``webhooks`` queue
(workers/webhooks.py); this module is what the API and the workers share: the event, the signature,
and :func:`announce`, called wherever a job reaches a terminal state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

from celery import Celery

from core import jobstore
from core.jobstore import Job, JobStore
from core.queue import WEBHOOK_QUEUE, WEBHOOK_TASK

logger = logging.getLogger(__name__)

TASK, QUEUE = WEBHOOK_TASK, WEBHOOK_QUEUE
HEADER = "Budgie-Signature"
EVENTS = {jobstore.COMPLETED: "job.completed", jobstore.FAILED: "job.failed", jobstore.CANCELLED: "job.cancelled"}
SECRET_FIELD = "webhook_secret"  # on the job's hash; never part of the job as read or shown
STATE_FIELD = "webhook"  # {"url", "event_id", "delivered", "attempts": [...]}
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Budgie-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """What a receiver does: the signature matches and ``t`` is within ``tolerance_s`` of now."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def event(job: Job, event_id: str, result_url: str | None) -> dict[str, Any]:
    """The JSON event for a job that ended."""
    error = {"code": job.get("error_code") or "failed", "message": job["error"]} if job.get("error") else None
    return {
        "id": event_id,
        "type": EVENTS.get(job["status"], f"job.{job['status']}"),
        "created_at": round(time.time(), 3),
        "data": {
            "id": job["id"],
            "status": job["status"],
            "model": job["request"].get("model"),
            "duration": job.get("duration") or job["request"].get("probe", {}).get("duration"),
            "created_at": job["created_at"],
            "completed_at": job.get("completed_at"),
            "error": error,
            "result_url": result_url,
        },
    }


def register(store: JobStore, job_id: str, url: str, secret: str, result_url: str) -> None:
    """Remember the job's webhook (at submit, before it is enqueued)."""
    initial: dict[str, Any] = {"url": url, "result_url": result_url, "delivered": None, "attempts": []}
    store.set_fields(job_id, **{STATE_FIELD: initial, SECRET_FIELD: secret})


def state(store: JobStore, job_id: str) -> dict[str, Any] | None:
    raw: str | None = store.r.hget(store.keys.job(job_id), STATE_FIELD)  # type: ignore[assignment]
    return json.loads(raw) if raw else None


def secret(store: JobStore, job_id: str) -> str | None:
    return store.r.hget(store.keys.job(job_id), SECRET_FIELD)  # type: ignore[return-value]


def announce(celery: Celery, store: JobStore, job_id: str) -> bool:
    """Queue the job's webhook delivery, if it has one (call after a transition to a terminal state)."""
    try:
        if state(store, job_id) is None:
            return False
        celery.send_task(TASK, args=(job_id, f"evt_{uuid.uuid4().hex}"), queue=QUEUE)
        return True
    except Exception:  # never let a webhook problem fail the job's own bookkeeping
        logger.exception("could not queue the webhook of %s", job_id)
        return False
