"""Per-tenant quotas kept in Redis, so every API process sees the same counts.

- active jobs: a set of the tenant's job ids that may still run, pruned of finished ones at each
  submit (workers need not report back), checked and added in one transaction;
- streaming sessions: a sorted set of leases scored by expiry, refreshed while a session is open, so a
  relay that dies without closing frees its slot after the lease time;
- audio seconds per UTC day: a float counter that is only incremented when the result stays under the
  limit (a Lua script: check and add are one step).

Requests per minute are flask-limiter's job (app.limits), not this module's.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis

from core.jobstore import TERMINAL, JobStore
from core.keys import Keys

# KEYS[1] = the leases; ARGV = now, expiry, limit, lease id. Returns 1 if the lease was taken.
_ACQUIRE_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(ARGV[2])))
  return 1
end
return 0
"""

# KEYS[1] = the day's counter; ARGV = seconds, limit, ttl. Returns {accepted, used (after, or as is)}.
_ADD_SECONDS = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, tostring(used)}
end
local after = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, after}
"""


def utc_day(now: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y%m%d")


def seconds_to_midnight(now: float | None = None) -> int:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - moment).total_seconds()) + 1)


class Quotas:
    def __init__(self, client: redis.Redis, prefix: str = "budgie"):
        self.r = client
        self.keys = Keys(prefix)
        self.jobs = JobStore(client, prefix)
        self._acquire_lease = client.register_script(_ACQUIRE_LEASE)
        self._add_seconds = client.register_script(_ADD_SECONDS)

    # -- active jobs -------------------------------------------------------------------------------
    def active_jobs(self, tenant: str) -> list[str]:
        """The tenant's jobs still pending or running (finished or vanished ones are dropped)."""
        key = self.keys.tenant_active_jobs(tenant)
        members: set[str] = self.r.smembers(key)  # type: ignore[assignment]
        done = [j for j in members if self.jobs.status(j) in (None, *TERMINAL)]
        if done:
            self.r.srem(key, *done)
        return sorted(set(members) - set(done))

    def start_job(self, tenant: str, job_id: str, limit: int) -> bool:
        """Count ``job_id`` as active unless the tenant already has ``limit`` active jobs."""
        key = self.keys.tenant_active_jobs(tenant)
        self.active_jobs(tenant)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if int(pipe.scard(key)) >= limit:
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.sadd(key, job_id)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def forget_job(self, tenant: str, job_id: str) -> None:
        """Release a slot taken for a job that was then refused (bad audio, queue down)."""
        self.r.srem(self.keys.tenant_active_jobs(tenant), job_id)

    # -- streaming sessions ------------------------------------------------------------------------
    def open_stream(self, tenant: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        """Take (or renew) a session lease unless ``limit`` live leases exist."""
        now = time.time()
        args: list[str | float] = [now, now + ttl_s, limit, lease_id]
        return bool(self._acquire_lease(keys=[self.keys.tenant_streams(tenant)], args=args))

    def renew_stream(self, tenant: str, lease_id: str, ttl_s: float) -> None:
        key = self.keys.tenant_streams(tenant)
        expiry = time.time() + ttl_s
        self.r.zadd(key, {lease_id: expiry}, xx=True)
        self.r.expireat(key, int(expiry) + 1)

    def close_stream(self, tenant: str, lease_id: str) -> None:
        self.r.zrem(self.keys.tenant_streams(tenant), lease_id)

    def open_streams(self, tenant: str) -> int:
        return int(self.r.zcount(self.keys.tenant_streams(tenant), time.time(), "+inf"))

    # -- audio seconds per day ---------------------------------------------------------------------
    def add_audio(self, tenant: str, seconds: float, limit: float) -> tuple[bool, float]:
        """Add ``seconds`` to today's count unless that would pass ``limit``; return (added, count)."""
        key = self.keys.tenant_audio_seconds(tenant, utc_day())
        accepted, used = self._add_seconds(keys=[key], args=[seconds, limit, 2 * 24 * 3600])
        return bool(accepted), float(used)

    def audio_today(self, tenant: str) -> float:
        return float(self.r.get(self.keys.tenant_audio_seconds(tenant, utc_day())) or 0)
