"""Stage leases: who is running which stage right now, as far as Redis can tell.

A stage holds a short-lived key while it runs and renews it from a thread. If the worker is
SIGKILLed, OOM-killed or its host vanishes, the renewals stop, the key expires within
``stage_lease_s``, and :mod:`workers.recovery` notices without waiting for the broker's
visibility timeout. The same key is the mutex that keeps two copies of a stage (a redelivered
message and a re-enqueued one) from running at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

import redis

from core.keys import Keys

logger = logging.getLogger(__name__)

# Renew or delete the lease only while it is still ours (it may have expired and been taken).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class StageLease:
    def __init__(self, client: redis.Redis, keys: Keys, job_id: str, stage: str, ttl_s: float):
        self.client = client
        self.keys = keys
        self.key = keys.stage_lease(job_id, stage)
        self.member = f"{job_id}:{stage}"
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; on success start renewing it."""
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self.client.sadd(self.keys.leased_stages, self.member)
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.member}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    logger.warning("lease %s was lost (expired while this worker was stalled)", self.member)
                    return
            except redis.RedisError as exc:  # keep trying: the lease may outlive a short outage
                logger.warning("could not renew lease %s: %s", self.member, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
            self.client.srem(self.keys.leased_stages, self.member)
        except redis.RedisError as exc:  # the reaper cleans up after the lease expires
            logger.warning("could not release lease %s: %s", self.member, exc)
