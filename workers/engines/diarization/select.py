"""Pick the diarization engine from the worker settings, loading each at most once per process."""

from __future__ import annotations

import functools
import logging
from typing import Any

from core.settings import Settings
from workers.engines.diarization.base import DiarizerUnavailable

logger = logging.getLogger(__name__)

ENGINES = ("embedded", "pyannote")


@functools.lru_cache(maxsize=4)
def _load(engine: str, source: str = "", token: str | None = None, device: str = "cpu"):
    if engine == "embedded":
        from workers.engines.diarization.embedded import EmbeddedDiarizer

        return EmbeddedDiarizer().load()
    from workers.engines.diarization.pyannote_engine import PyannoteDiarizer

    return PyannoteDiarizer(source, token, device).load()


def _device(configured: str) -> str:
    if configured in ("cpu", "cuda"):
        return configured
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_diarizer(settings: Settings) -> Any:
    """Return a loaded diarizer or raise :class:`DiarizerUnavailable` saying what to configure."""
    engine, fallback = settings.diarizer, settings.diarizer_fallback  # both validated by core.settings
    if engine == "embedded":
        return _load("embedded")
    try:
        return _load("pyannote", settings.pyannote_model, settings.hf_token, _device(settings.device))
    except DiarizerUnavailable as exc:
        if fallback != "embedded":
            raise
        logger.warning("pyannote unavailable, falling back to the embedded diarizer: %s", exc)
        return _load("embedded")
