"""Worker selection from real Redis hashes and the worker's own heartbeat writer."""

from __future__ import annotations

import json
import os
import time

from app.ws.routing import live_workers
from core.heartbeat import Heartbeat
from core.keys import Keys
from tests.conftest import wait_for

PREFIX = "budgie-test-routing"


def put(r, wid, **fields):
    base = {
        "status": "ready",
        "endpoint": f"ws://h/{wid}",
        "capacity": 4,
        "active_sessions": 0,
        "models": json.dumps(["m1"]),
        "last_heartbeat": time.time(),
    }
    base.update(fields)
    r.hset(f"{PREFIX}:realtime:worker:{wid}", mapping=base)


def test_most_free_capacity_first_and_unusable_workers_skipped(redis_client):
    put(redis_client, "a", active_sessions=3)
    put(redis_client, "b", active_sessions=1)
    put(redis_client, "c", capacity=8, active_sessions=2)
    put(redis_client, "full", active_sessions=4)
    put(redis_client, "stale", last_heartbeat=time.time() - 120)
    put(redis_client, "draining", status="draining")
    put(redis_client, "other", models=json.dumps(["m2"]))
    put(redis_client, "broken", capacity="lots")
    picked = live_workers(redis_client, Keys(PREFIX).realtime_workers, "m1", stale_s=30)
    assert [w["key"].rsplit(":", 1)[1] for w in picked] == ["c", "b", "a"]
    assert [w["free"] for w in picked] == [6, 3, 1]
    assert live_workers(redis_client, Keys(PREFIX).realtime_workers, "m3", stale_s=30) == []


def test_registration_rewrites_full_identity_with_ttl(redis_client):
    calls = []

    def identity():
        calls.append(1)
        return {
            "worker_id": "w",
            "status": "ready",
            "endpoint": "ws://x:1",
            "capacity": 2,
            "active_sessions": len(calls) % 2,
            "models": ["m1"],
        }

    reg = Heartbeat(os.environ["REDIS_URL"], Keys(PREFIX).realtime_worker("w"), identity, interval_s=0.2, ttl_s=3)
    reg.start()
    try:
        key = Keys(PREFIX).realtime_worker("w")
        wait_for(lambda: len(calls) >= 3, timeout=5, interval=0.05, what="three heartbeats")
        entry = redis_client.hgetall(key)
        assert json.loads(entry["models"]) == ["m1"] and entry["endpoint"] == "ws://x:1"
        assert 0 < redis_client.ttl(key) <= 3
        redis_client.delete(key)
        beats = len(calls)
        wait_for(lambda: len(calls) > beats + 1, timeout=5, interval=0.05, what="a beat after the delete")
        assert redis_client.hget(key, "endpoint") == "ws://x:1"  # restored whole, not just the timestamp
    finally:
        reg.stop(unregister=True)
    assert not redis_client.exists(Keys(PREFIX).realtime_worker("w"))
