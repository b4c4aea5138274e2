"""The model catalogue with live state: which models a running worker has loaded."""
from __future__ import annotations

import json
import os

from app.errors import ApiError
from app.extensions import redis_client
from flask import current_app
from registry import ModelEntry, UnknownModelError, load_registry


def served_models() -> set[str]:
    """Models whose ``transcribe.<model>`` queue a live batch worker consumes."""
    from workers.routing import model_from_queue

    r = redis_client()
    served: set[str] = set()
    for key in r.scan_iter(match=f"{current_app.config['BUDGIE_KEY_PREFIX']}:batch:worker:*", count=100):
        served.update(m for q in json.loads(r.hget(key, "queues") or "[]") if (m := model_from_queue(q)))
    return served


def _loaded_models() -> set[str]:
    """Models loaded by live batch workers and served by live streaming workers (heartbeat keys expire)."""
    r = redis_client()
    prefix = current_app.config["BUDGIE_KEY_PREFIX"]
    loaded: set[str] = set()
    for pattern in (f"{prefix}:batch:worker:*", f"{prefix}:realtime:worker:*"):
        for key in r.scan_iter(match=pattern, count=100):
            raw = r.hget(key, "models")
            if raw:
                loaded.update(json.loads(raw))
    return loaded


def _describe(entry: ModelEntry, loaded: set[str]) -> dict:
    available = bool(entry.hub) or bool(entry.path and os.path.exists(entry.path))
    is_loaded = entry.id in loaded
    return {
        **entry.to_dict(),
        "streaming": entry.streaming != "none",
        "streaming_mode": entry.streaming,
        "source": entry.hub or "local",
        "capabilities": {
            "languages": list(entry.languages),
            "streaming": entry.streaming != "none",
            "streaming_mode": entry.streaming,
            "word_timestamps": entry.word_timestamps,
        },
        "available": available,
        "loaded": is_loaded,
        "state": "loaded" if is_loaded else ("available" if available else "missing"),
    }


def list_models() -> list[dict]:
    loaded = _loaded_models()
    return [_describe(e, loaded) for e in sorted(load_registry().all(), key=lambda e: e.id)]


def get_model(model_id: str) -> dict:
    try:
        entry = load_registry().resolve(model_id)
    except UnknownModelError as exc:
        raise ApiError(404, str(exc), details={"valid_models": exc.valid}) from exc
    return _describe(entry, _loaded_models())
