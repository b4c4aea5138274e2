"""The model catalogue with live state: which models a running worker has loaded."""

from __future__ import annotations

import json
from typing import Any

from app.errors import ApiError
from app.extensions import keys, redis_client, settings
from core.catalog import registry
from core.queue import model_from_queue
from core.weights import cached_weights
from registry import ModelEntry, UnknownModelError


def _worker_entries(pattern: str, field: str) -> list[list[str]]:
    """The JSON list ``field`` of every live worker entry matching ``pattern`` (heartbeat keys expire)."""
    r = redis_client()
    found = []
    for key in r.scan_iter(match=pattern, count=100):
        raw = r.hget(key, field)
        if raw:
            found.append(json.loads(raw))
    return found


def served_models() -> set[str]:
    """Models whose ``transcribe.<model>`` queue a live batch worker consumes."""
    queues = _worker_entries(keys().batch_workers, "queues")
    return {m for worker in queues for q in worker if (m := model_from_queue(q))}


def _loaded_models() -> set[str]:
    """Models loaded by live batch workers and served by live streaming workers."""
    found = _worker_entries(keys().batch_workers, "models") + _worker_entries(keys().realtime_workers, "models")
    return {m for worker in found for m in worker}


def _describe(entry: ModelEntry, loaded: set[str]) -> dict[str, Any]:
    available = cached_weights(entry, settings().hub_cache_dir) is not None
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
            "decoder": entry.decodes_with,
            "chunk_ms": list(entry.chunk_ms),
            "endpointing": list(entry.endpointing),
            "punctuation": entry.punctuation,
        },
        "available": available,
        "loaded": is_loaded,
        "state": "loaded" if is_loaded else ("available" if available else "missing"),
    }


def list_models() -> list[dict[str, Any]]:
    loaded = _loaded_models()
    return [_describe(e, loaded) for e in sorted(registry().all(), key=lambda e: e.id)]


def get_model(model_id: str) -> dict[str, Any]:
    try:
        entry = registry().resolve(model_id)
    except UnknownModelError as exc:
        raise ApiError(404, str(exc), details={"valid_models": exc.valid}) from exc
    return _describe(entry, _loaded_models())
