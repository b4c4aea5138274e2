"""The reaper: finish what dead batch workers started.

Every batch worker runs a :class:`Reaper` thread; a Redis lock lets one of them work per round.
A stage whose lease expired while its record still says ``running`` lost its worker. The reaper
marks it ``retrying`` and sends the job's canvas again: stages that already completed return at
once (see :mod:`workers.stage`), the lost one runs on the next free worker, and the lease keeps
two copies of a stage from running at the same time. A stage that has killed its worker
``stage_max_kills`` times fails its job with a clear message instead of looping (poison audio).

Timings: a dead worker is noticed within ``stage_lease_s`` + ``reaper_interval_s`` (40 s by
default) once any batch worker is alive, not after the broker's visibility timeout (2 h).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery import Celery

from core import jobstore, webhooks
from core.catalog import registry
from core.keys import Keys
from core.pipeline import Plan, build_canvas
from core.settings import Settings

logger = logging.getLogger(__name__)

RETRYING = "retrying"


def poison_message(stage: str, kills: int) -> str:
    return (
        f"{stage}: the worker processing this audio died {kills} times; the file may be damaged or too large "
        "for the worker's memory"
    )


def reap_once(client: redis.Redis, settings: Settings, celery: Celery) -> list[str]:
    """Recover every stage whose lease expired; return the ``job:stage`` members handled."""
    keys = Keys(settings.key_prefix)
    store = jobstore.JobStore(client, settings.key_prefix, settings.job_ttl_s)
    handled = []
    members: set[str] = client.smembers(keys.leased_stages)  # type: ignore[assignment]
    for member in sorted(members):
        job_id, _, stage = member.rpartition(":")
        if client.exists(keys.stage_lease(job_id, stage)):
            continue
        client.srem(keys.leased_stages, member)
        job = store.get(job_id)
        if job is None or job["status"] in jobstore.TERMINAL:
            continue
        record = next((s for s in job["stages"] if s["stage"] == stage), None)
        if record is None or record.get("status") != "running":
            continue  # it finished normally between the lease's release and our look
        handled.append(member)
        kills = int(record.get("attempts", 1))
        if kills >= settings.stage_max_kills:
            message = poison_message(stage, kills)
            logger.error("job %s: %s", job_id, message)
            failed = {"error": message, "error_code": "worker_died", "completed_at": jobstore.now()}
            store.update_stage(job_id, stage, status="failed", **failed)
            if store.transition(job_id, jobstore.FAILED, **failed):
                webhooks.announce(celery, store, job_id)
            continue
        logger.warning("job %s: the worker running %s died (attempt %d); re-enqueuing", job_id, stage, kills)
        store.update_stage(job_id, stage, status=RETRYING, retried_at=jobstore.now())
        resend(celery, job)
    return handled


def resend(celery: Celery, job: jobstore.Job) -> None:
    """Send the job's whole canvas again; completed stages skip themselves."""
    request = job["request"]
    entry = registry().resolve(request["model"])
    plan = Plan(tuple(s["stage"] for s in job["stages"]))
    build_canvas(celery, job["id"], request, entry, plan).apply_async()


class Reaper(threading.Thread):
    """Runs :func:`reap_once` every ``reaper_interval_s`` in whichever worker holds the lock."""

    def __init__(self, settings: Settings, celery: Celery):
        super().__init__(name="budgie-reaper", daemon=True)
        self.settings = settings
        self.celery = celery
        self.client: Any = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = self.settings.reaper_interval_s
        lock = Keys(self.settings.key_prefix).reaper_lock
        while not self._stop_event.wait(interval):
            try:
                if self.client.set(lock, "1", nx=True, px=max(1, int(interval * 900))):
                    reap_once(self.client, self.settings, self.celery)
            except Exception:  # Redis away or a bad record: log and try again next round
                logger.exception("reaper round failed")

    def stop(self) -> None:
        self._stop_event.set()
