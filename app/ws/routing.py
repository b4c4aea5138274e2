"""Pick a streaming worker for a model from the Redis registry (most free capacity first)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

logger = logging.getLogger(__name__)


def live_workers(
    client: redis.Redis, pattern: str, model_id: str, stale_s: float, *, include_full: bool = False
) -> list[dict[str, Any]]:
    """Workers matching ``pattern`` (core.keys) that serve ``model_id`` with a fresh heartbeat and a free
    slot (or, ``include_full``, any slot count), most free capacity first."""
    now = time.time()
    found = []
    for key in client.scan_iter(match=pattern, count=100):
        info: dict[str, Any] = client.hgetall(key)  # type: ignore[assignment]
        try:
            models = json.loads(info.get("models") or "[]")
            free = int(info.get("capacity", 0)) - int(info.get("active_sessions", 0))
            age = now - float(info.get("last_heartbeat", 0))
        except (TypeError, ValueError):
            logger.warning("ignoring malformed worker entry %s", key)
            continue
        if (
            model_id not in models
            or info.get("status") == "draining"
            or age > stale_s
            or (free <= 0 and not include_full)
        ):
            continue
        if not info.get("endpoint"):
            continue
        found.append({**info, "key": key, "free": free, "age": age})
    found.sort(key=lambda w: (-w["free"], w["age"]))
    return found
