"""Advertise a live process in Redis: a hash rewritten in full on every beat, with a TTL.

Batch workers (queues, loaded models) and streaming workers (endpoint, free slots) both register
this way. The whole identity is written each time (never just the timestamp), so an entry that
expired under load comes back complete on the next beat, and a dead process's entry disappears
on its own when the TTL runs out.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """A daemon thread that calls ``identity()`` and rewrites ``key`` every ``interval_s``."""

    def __init__(self, redis_url: str, key: str, identity: Callable[[], dict[str, Any]], interval_s: float, ttl_s: int):
        super().__init__(name=f"heartbeat-{key.rsplit(':', 1)[-1]}", daemon=True)
        self.client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
        self.key = key
        self.identity = identity
        self.interval_s = interval_s
        self.ttl_s = ttl_s
        self.started_at = time.time()
        self._stop_event = threading.Event()

    def beat(self) -> None:
        """Write the identity now (also called outside the loop when something changed)."""
        fields: dict[Any, Any] = {
            k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in self.identity().items()
        }
        fields.update(
            last_heartbeat=f"{time.time():.3f}",
            started_at=f"{self.started_at:.3f}",
            hostname=fields.get("hostname") or socket.gethostname(),
            pid=os.getpid(),
        )
        pipe = self.client.pipeline()
        pipe.hset(self.key, mapping=fields)
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:
                logger.warning("heartbeat to %s failed: %s", self.key, exc)
            self._stop_event.wait(self.interval_s)

    def stop(self, unregister: bool = True) -> None:
        self._stop_event.set()
        if unregister:
            try:
                self.client.delete(self.key)
            except redis.RedisError:
                pass
