"""``budgie.webhook``: POST a signed event for a job that ended, retrying with exponential backoff.

Runs on its own ``webhooks`` queue, so a slow receiver never holds up transcription. Each attempt is
recorded on the job (``webhook.attempts``) and shown in the job view. The URL is checked again here by
``core.netguard`` (DNS may have changed since submit; a redirect is never followed for a POST).
Attempt n waits ``BUDGIE_WEBHOOK_RETRY_BASE_S * 4**(n-1)`` after the previous one; after
``BUDGIE_WEBHOOK_MAX_ATTEMPTS`` attempts (default 6: 12 s, 48 s, 3.2 min, 12.8 min, 51 min) it gives up.
A URL the guard refuses is not retried.
"""

from __future__ import annotations

import json
import logging
import time

import requests
from celery import shared_task

from core import netguard, webhooks
from core.jobstore import now
from core.logs import log_context
from core.settings import get_settings
from workers.stage import store

logger = logging.getLogger(__name__)

BACKOFF = 4
USER_AGENT = "Budgie-Webhook/1"


def backoff_s(attempt: int) -> float:
    """The wait before attempt ``attempt + 1``."""
    return get_settings().webhook_retry_base_s * BACKOFF ** (attempt - 1)


@shared_task(name=webhooks.TASK, bind=True, max_retries=None, acks_late=True)
def deliver(self, job_id: str, event_id: str) -> None:
    with log_context(job_id=job_id):
        _deliver(self, job_id, event_id)


def _deliver(task, job_id: str, event_id: str) -> None:
    settings = get_settings()
    jobs = store()
    job = jobs.get(job_id)
    state = job.get("webhook") if job else None
    secret = webhooks.secret(jobs, job_id)
    if job is None or not state or not secret:
        logger.info("job %s is gone or has no webhook; nothing to deliver", job_id)
        return
    attempt = len(state.get("attempts", [])) + 1
    body = json.dumps(webhooks.event(job, event_id, state.get("result_url")), separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        webhooks.HEADER: webhooks.signature(secret, timestamp, body),
        "Budgie-Event": webhooks.EVENTS.get(job["status"], job["status"]),
        "Budgie-Delivery": event_id,
    }
    started = time.monotonic()
    status, error, permanent = None, None, False
    try:
        with netguard.guarded_request(
            "POST",
            state["url"],
            allow_private=settings.allow_private_urls,
            timeout=settings.webhook_timeout_s,
            headers=headers,
            data=body,
        ) as response:
            status = response.status_code
            error = netguard.status_error(response)
    except netguard.UnsafeURL as exc:
        error, permanent = netguard.describe(exc), True
    except requests.RequestException as exc:
        error = netguard.describe(exc)
    record = {
        "attempt": attempt,
        "at": now(),
        "status_code": status,
        "error": error,
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
    delivered = error is None
    final = delivered or permanent or attempt >= settings.webhook_max_attempts
    state = {**state, "attempts": [*state.get("attempts", []), record], "delivered": delivered if final else None}
    if final and not delivered:
        state["gave_up"] = error if permanent else f"no success after {attempt} attempts"
    jobs.set_fields(job_id, **{webhooks.STATE_FIELD: state})
    if final:
        logger.log(logging.INFO if delivered else logging.WARNING, "webhook %s: %s", event_id, error or "delivered")
        return
    delay = backoff_s(attempt)
    logger.info("webhook %s attempt %d failed (%s); retrying in %.1fs", event_id, attempt, error, delay)
    raise task.retry(countdown=delay)
