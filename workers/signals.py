"""Worker start-up: preload the models this worker serves, and heartbeat its identity to Redis.

A worker consuming ``transcribe.<model>`` loads that model once, before taking any task, and
exits with a clear message if it cannot (for example a GPU model on a machine without CUDA).
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time

import redis
from celery import signals

from registry import load_registry
from workers.engines.device import DeviceError
from workers.routing import model_from_queue
from workers.settings import get_settings

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10
HEARTBEAT_TTL_S = 30
_state = {"queues": [], "hostname": socket.gethostname(), "stop": threading.Event()}


def worker_key(prefix: str, hostname: str) -> str:
    return f"{prefix}:batch:worker:{hostname}"


@signals.celeryd_after_setup.connect
def _preload_models(sender, instance, **kwargs):
    """Runs after logging is set up and before the consumer starts taking tasks."""
    from workers.engines.loader import ModelLoadError, get_model

    _state["hostname"] = sender
    _state["queues"] = sorted(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    settings = get_settings()
    wanted = set(settings.preload_models) | {m for q in _state["queues"] if (m := model_from_queue(q))}
    for model_id in sorted(wanted):
        entry = load_registry().resolve(model_id)
        try:
            get_model(entry, settings.device)
        except (DeviceError, ModelLoadError) as exc:
            logger.critical("cannot serve %s: %s", model_id, exc)
            raise SystemExit(f"budgie worker: cannot serve {model_id}: {exc}") from exc


@signals.worker_ready.connect
def _start_heartbeat(sender=None, **kwargs):
    threading.Thread(target=_heartbeat_loop, name="budgie-heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _stop_heartbeat(sender=None, **kwargs):
    _state["stop"].set()
    settings = get_settings()
    try:
        redis.Redis.from_url(settings.redis_url).delete(worker_key(settings.key_prefix, _state["hostname"]))
    except redis.RedisError:
        pass


def _heartbeat_loop() -> None:
    from workers.engines.loader import loaded_model_ids

    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    key = worker_key(settings.key_prefix, _state["hostname"])
    while not _state["stop"].is_set():
        try:
            # the full identity every time, so an expired key comes back whole
            client.hset(key, mapping={
                "hostname": _state["hostname"],
                "queues": json.dumps(_state["queues"]),
                "models": json.dumps(loaded_model_ids()),
                "device": settings.device,
                "last_heartbeat": time.time(),
            })
            client.expire(key, HEARTBEAT_TTL_S)
        except redis.RedisError as exc:
            logger.warning("heartbeat failed: %s", exc)
        _state["stop"].wait(HEARTBEAT_S)
