"""Housekeeping: remove stored files whose job record is gone (expired after ``BUDGIE_JOB_TTL_S`` or
deleted while a stage was still writing), on the local and the S3 backend alike.

Every Celery worker runs :class:`Sweeper` in a daemon thread; each interval, the one worker that takes
a Redis lock (``SET NX`` with the interval as its TTL, never released early) sweeps, so a cluster sweeps
once per interval however many workers it has. Files younger than ``BUDGIE_SWEEP_GRACE_S`` are left
alone. Each worker also removes its host's stale scratch entries (:func:`sweep_scratch`: left by a
process killed mid-stage). ``python3 -m workers.housekeeping`` does both once, from a shell or a cron job
(on API-only hosts too, for uploads a killed API process was probing).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass

import redis

from core.jobstore import JobStore
from core.keys import Keys
from core.settings import Settings, get_settings
from core.storage import job_prefix, open_storage, scratch_root

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    jobs_removed: int
    objects_removed: int
    jobs_seen: int


def sweep(settings: Settings, now: float | None = None) -> SweepResult:
    """Remove every job's files whose record is gone and whose newest file is older than the grace period."""
    storage = open_storage(settings)
    jobs = JobStore.from_url(settings.redis_url, settings.key_prefix, settings.job_ttl_s)
    now = time.time() if now is None else now
    removed = objects = seen = 0
    for job_id, newest in list(storage.job_ids()):
        seen += 1
        if now - newest < settings.sweep_grace_s or jobs.exists(job_id):
            continue
        count = storage.delete_prefix(job_prefix(job_id))
        removed += 1
        objects += count
        logger.info("swept %d files of %s (its record is gone)", count, job_id)
    return SweepResult(removed, objects, seen)


def sweep_scratch(settings: Settings, now: float | None = None) -> int:
    """Remove this host's scratch leftovers that no running stage or upload can still own (a process
    killed mid-stage): entries older than the task time limit plus the grace period. Per host, no lock."""
    root = scratch_root(settings)
    cutoff = (time.time() if now is None else now) - settings.task_time_limit_s - settings.sweep_grace_s
    if not root.is_dir():
        return 0
    entries = [p for p in root.iterdir() if p.name != "api"]
    if (root / "api").is_dir():
        entries += list((root / "api").iterdir())  # uploads the API was probing
    removed = 0
    for entry in entries:
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another process on this host got there first
            continue
        removed += 1
        logger.info("removed stale scratch %s", entry)
    return removed


def sweep_if_due(settings: Settings) -> SweepResult | None:
    """Sweep unless another process already did this interval (the Redis lock); ``None`` when skipped."""
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    ttl_ms = max(1000, int(settings.sweep_interval_s * 1000))
    if not client.set(Keys(settings.key_prefix).sweep_lock, get_settings().worker_id, nx=True, px=ttl_ms):
        return None
    return sweep(settings)


class Sweeper:
    """A daemon thread calling :func:`sweep_if_due` every ``sweep_interval_s`` (0 disables it)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="budgie-sweeper", daemon=True)

    def start(self) -> None:
        if self.settings.sweep_interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_s):
            try:
                sweep_scratch(self.settings)
                result = sweep_if_due(self.settings)
            except Exception:  # Redis or the store briefly away: try again next interval
                logger.exception("housekeeping sweep failed")
                continue
            if result is not None and result.jobs_removed:
                logger.info("housekeeping removed the files of %d expired jobs", result.jobs_removed)


def main() -> None:
    settings = get_settings()
    result = sweep(settings)
    stale = sweep_scratch(settings)
    print(
        f"swept {result.jobs_removed} of {result.jobs_seen} jobs ({result.objects_removed} files); "
        f"{stale} stale scratch entries"
    )


if __name__ == "__main__":
    main()
