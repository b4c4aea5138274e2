"""Model names on the OpenAI surface: OpenAI's own names stand for the configured default model."""

from __future__ import annotations

import os
from typing import Any

from app.errors import ApiError
from app.extensions import settings
from core.catalog import registry
from registry import ModelEntry, UnknownModelError


def budgie_model(name: str | None) -> str | None:
    """The Budgie id or alias to submit with: ``whisper-1`` and the other names in
    ``BUDGIE_OPENAI_MODEL_NAMES`` (and no model at all) mean ``BUDGIE_DEFAULT_MODEL``."""
    if not name or name in settings().openai_model_names:
        return settings().default_model
    return name


def _created(entry: ModelEntry) -> int:
    """Seconds since the epoch: when a local weights file was written; 0 for a hub model."""
    if entry.path and os.path.exists(entry.path):
        return int(os.path.getmtime(entry.path))
    return 0


def describe(entry: ModelEntry, model_id: str | None = None) -> dict[str, Any]:
    return {"id": model_id or entry.id, "object": "model", "created": _created(entry), "owned_by": "budgie"}


def list_models() -> list[dict[str, Any]]:
    return [describe(e) for e in sorted(registry().all(), key=lambda e: e.id)]


def get_model(model_id: str) -> dict[str, Any]:
    """One model; an OpenAI name answers as itself (it is served by the default model)."""
    requested = budgie_model(model_id) or model_id
    try:
        entry = registry().resolve(requested)
    except UnknownModelError as exc:
        raise ApiError(404, f"The model '{model_id}' does not exist", "model_not_found") from exc
    return describe(entry, model_id if model_id in settings().openai_model_names else None)
