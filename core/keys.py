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

    @property
    def job_states(self) -> str:
        """Hash: jobs pending/running now, and jobs that ever reached each terminal state (metrics)."""
        return f"{self.prefix}:jobs:states"

    # -- housekeeping ----------------------------------------------------------------------------
    @property
    def sweep_lock(self) -> str:
        """String with a TTL: held by the one worker sweeping orphaned files this interval."""
        return f"{self.prefix}:housekeeping:sweep"

    # -- crash recovery --------------------------------------------------------------------------
    def stage_lease(self, job_id: str, stage: str) -> str:
        """String with a TTL: held by the worker running this stage, renewed while it runs."""
        return f"{self.prefix}:lease:{job_id}:{stage}"

    @property
    def leased_stages(self) -> str:
        """Set of ``<job_id>:<stage>`` whose lease the reaper checks."""
        return f"{self.prefix}:leases"

    @property
    def reaper_lock(self) -> str:
        """String with a TTL: the one batch worker reaping right now."""
        return f"{self.prefix}:reaper:lock"

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

    # -- API keys and tenants (core.apikeys, core.quotas) -----------------------------------------
    def api_key(self, key_id: str) -> str:
        """Hash: one API key's record (name, tenant, scopes, limits; the secret only as a SHA-256 digest)."""
        return f"{self.prefix}:apikey:{key_id}"

    def api_key_digest(self, digest: str) -> str:
        """String: the id of the live key whose secret has this SHA-256 digest (deleted on revoke)."""
        return f"{self.prefix}:apikey:digest:{digest}"

    @property
    def api_keys(self) -> str:
        """Set: every key id (the listing index)."""
        return f"{self.prefix}:apikeys"

    def tenant_jobs(self, tenant: str) -> str:
        """Sorted set: one tenant's job ids by creation time (its listing index)."""
        return f"{self.prefix}:tenant:{tenant}:jobs"

    def tenant_active_jobs(self, tenant: str) -> str:
        """Set: a tenant's job ids that may still be pending or running (pruned at each submit)."""
        return f"{self.prefix}:tenant:{tenant}:active"

    def tenant_streams(self, tenant: str) -> str:
        """Sorted set: a tenant's open streaming sessions, scored by when their lease expires."""
        return f"{self.prefix}:tenant:{tenant}:streams"

    def tenant_audio_seconds(self, tenant: str, day: str) -> str:
        """Float with a TTL: seconds of audio a tenant submitted on ``day`` (UTC, YYYYMMDD)."""
        return f"{self.prefix}:tenant:{tenant}:audio:{day}"

    @property
    def rate_limits(self) -> str:
        """Prefix of flask-limiter's request counters (shared by every API process)."""
        return f"{self.prefix}:ratelimit"
