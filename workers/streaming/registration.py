"""Advertise the worker in Redis so the API can route sessions to it.

The hash ``{prefix}:realtime:worker:{id}`` is rewritten in full on every heartbeat (never just the
timestamp) and given a TTL, so a worker whose key expired under load reappears complete on the
next beat, and a dead worker's entry disappears on its own.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

import redis

logger = logging.getLogger(__name__)


def worker_key(prefix: str, worker_id: str) -> str:
    return f"{prefix}:realtime:worker:{worker_id}"


class Registration(threading.Thread):
    """Heartbeat thread; ``identity()`` is called on every beat for the live numbers."""

    def __init__(self, redis_url: str, prefix: str, worker_id: str, identity, heartbeat_s: float, ttl_s: int):
        super().__init__(name="stream-registration", daemon=True)
        self.client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
        self.key = worker_key(prefix, worker_id)
        self.identity = identity
        self.heartbeat_s = heartbeat_s
        self.ttl_s = ttl_s
        self.started_at = time.time()
        self._stop = threading.Event()

    def beat(self) -> None:
        fields = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in self.identity().items()}
        fields.update(last_heartbeat=f"{time.time():.3f}", started_at=f"{self.started_at:.3f}",
                      hostname=socket.gethostname(), pid=os.getpid())
        pipe = self.client.pipeline()
        pipe.hset(self.key, mapping=fields)
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:
                logger.warning("heartbeat to %s failed: %s", self.key, exc)
            self._stop.wait(self.heartbeat_s)

    def stop(self, unregister: bool = True) -> None:
        self._stop.set()
        if unregister:
            try:
                self.client.delete(self.key)
            except redis.RedisError:
                pass
