"""The Redis key schema: every key Budgie writes is spelled here and nowhere else.

All keys start with the configured prefix (``BUDGIE_KEY_PREFIX``, default ``budgie``), so several
installations, or the tests, can share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "budgie"

    # -- jobs ------------------------------------------------------------------------------------
    def job(self, job_id: str) -> str:
        """Hash: one job's request, status, stages and result."""
        return f"{self.prefix}:job:{job_id}"

    @property
    def jobs(self) -> str:
        """Sorted set: job ids by creation time (the listing index)."""
        return f"{self.prefix}:jobs"

    # -- housekeeping ----------------------------------------------------------------------------
    @property
    def sweep_lock(self) -> str:
        """String with a TTL: held by the one worker sweeping orphaned files this interval."""
        return f"{self.prefix}:housekeeping:sweep"

    # -- workers ---------------------------------------------------------------------------------
    def batch_worker(self, hostname: str) -> str:
        """Hash with a TTL: a Celery worker's queues and loaded models."""
        return f"{self.prefix}:batch:worker:{hostname}"

    @property
    def batch_workers(self) -> str:
        """SCAN pattern for every batch worker entry."""
        return f"{self.prefix}:batch:worker:*"

    def realtime_worker(self, worker_id: str) -> str:
        """Hash with a TTL: a streaming worker's endpoint, models and free slots."""
        return f"{self.prefix}:realtime:worker:{worker_id}"

    @property
    def realtime_workers(self) -> str:
        """SCAN pattern for every streaming worker entry."""
        return f"{self.prefix}:realtime:worker:*"
