"""The streaming wire protocol: query parameters, client frames, server messages and close codes.

Shared by the worker and the API relay so both validate the same way (see docs/streaming.md).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry import ModelEntry, Registry, UnknownModelError

logger = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_INTERNAL = 1011
CLOSE_BAD_PARAMS = 4400  # bad query parameter, unknown model, unsupported language
CLOSE_UNAUTHORIZED = 4401  # missing, unknown or revoked API key (the API relay)
CLOSE_FORBIDDEN = 4403  # the key lacks the "stream" scope
CLOSE_IDLE = 4408  # nothing received for idle_timeout_s
CLOSE_PROTOCOL = 4409  # the client broke the protocol in a way the session cannot survive
CLOSE_TOO_LARGE = 4413  # a binary frame over max_frame_bytes
CLOSE_RATE_LIMITED = 4429  # the tenant's concurrent-session quota is used up
CLOSE_WORKER_LOST = 4502  # the relay lost its streaming worker
CLOSE_NO_CAPACITY = 4503  # no worker has a free session slot for the model

ENCODINGS = ("pcm_s16le", "pcm_f32le")  # decoded by workers.streaming.decoding
MIN_RATE, MAX_RATE = 8000, 48000
CONTROL_TYPES = ("flush", "end", "config")
CONFIG_KEYS = {
    "interim_results": bool,
    "word_timestamps": bool,
    "vad_threshold": float,
    "vad_silence_ms": int,
    "language": str,
}


class ProtocolError(Exception):
    """A client mistake: ``close_code`` None means the session can go on."""

    def __init__(self, code: str, message: str, close_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code

    def to_message(self) -> dict[str, Any]:
        return error_message(self.code, self.message, recoverable=self.close_code is None)


def error_message(code: str, message: str, recoverable: bool = False) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "recoverable": recoverable}


@dataclass(frozen=True)
class SessionParams:
    model: str
    language: str
    encoding: str
    sample_rate: int
    interim_results: bool
    word_timestamps: bool
    chunk_ms: int | None = None  # a trained attention context of a cache-aware model (None: the worker's default)


def _bool(args: Mapping[str, str], name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    value = str(raw).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ProtocolError("invalid_parameters", f"{name} must be true or false, not '{raw}'", CLOSE_BAD_PARAMS)


def parse_params(args: Mapping[str, str], registry: Registry, default_model: str) -> tuple[SessionParams, ModelEntry]:
    """Validate the query string; raise ProtocolError (close 4400) with a message naming the problem."""
    model_id = args.get("model") or default_model
    try:
        entry = registry.resolve(model_id, streaming=True)
    except UnknownModelError as exc:
        raise ProtocolError("invalid_parameters", str(exc), CLOSE_BAD_PARAMS) from exc
    if entry.streaming == "none":
        raise ProtocolError("invalid_parameters", f"Model {entry.id} does not support streaming", CLOSE_BAD_PARAMS)
    language = (args.get("language") or "auto").strip()
    if not entry.supports_language(language):
        raise ProtocolError("language_not_supported", entry.language_error, CLOSE_BAD_PARAMS)
    encoding = (args.get("encoding") or "pcm_s16le").lower()
    if encoding not in ENCODINGS:
        raise ProtocolError(
            "invalid_parameters", f"encoding must be one of {', '.join(ENCODINGS)}, not '{encoding}'", CLOSE_BAD_PARAMS
        )
    raw_rate = args.get("sample_rate") or "16000"
    try:
        rate = int(raw_rate)
    except ValueError:
        rate = 0
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(
            "invalid_parameters",
            f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE}, not '{raw_rate}'",
            CLOSE_BAD_PARAMS,
        )
    params = SessionParams(
        model=entry.id,
        language="en" if language == "auto" else language,
        encoding=encoding,
        sample_rate=rate,
        interim_results=_bool(args, "interim_results", True),
        word_timestamps=_bool(args, "word_timestamps", True),
        chunk_ms=_chunk_ms(args, entry),
    )
    return params, entry


def _chunk_ms(args: Mapping[str, str], entry: ModelEntry) -> int | None:
    """``chunk_ms`` picks one of the attention contexts a cache-aware model was trained with."""
    raw = args.get("chunk_ms")
    if raw is None or raw == "":
        return None
    valid = sorted(entry.chunk_ms)
    if not valid:
        raise ProtocolError(
            "invalid_parameters",
            f"chunk_ms picks a trained attention context; {entry.id} streams in {entry.streaming} mode "
            f"and has none (its chunk is the worker's)",
            CLOSE_BAD_PARAMS,
        )
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in valid:
        raise ProtocolError(
            "invalid_parameters",
            f"chunk_ms must be one of {', '.join(map(str, valid))} for {entry.id} (its trained attention "
            f"contexts), not '{raw}'",
            CLOSE_BAD_PARAMS,
        )
    return value


def parse_control(text: str) -> dict[str, Any]:
    """Parse a JSON text frame into a control message or raise a recoverable ProtocolError."""
    try:
        msg = json.loads(text)
    except (ValueError, TypeError):
        raise ProtocolError("invalid_message", 'text frames must be JSON objects like {"type": "end"}') from None
    if not isinstance(msg, dict) or msg.get("type") not in CONTROL_TYPES:
        raise ProtocolError("invalid_message", f"type must be one of {', '.join(CONTROL_TYPES)}")
    if msg["type"] == "config":
        unknown = sorted(set(msg) - set(CONFIG_KEYS) - {"type"})
        if unknown:
            raise ProtocolError(
                "invalid_message", f"unknown config keys: {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
            )
        for key, kind in CONFIG_KEYS.items():
            if key in msg:
                value = msg[key]
                ok = (
                    isinstance(value, bool)
                    if kind is bool
                    else (
                        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                        if kind in (int, float)
                        else isinstance(value, str)
                    )
                )
                if not ok:
                    raise ProtocolError("invalid_message", f"config {key} must be a {kind.__name__}")
        if "vad_threshold" in msg and not 0.05 <= msg["vad_threshold"] <= 0.95:
            raise ProtocolError("invalid_message", "vad_threshold must be between 0.05 and 0.95")
        if "vad_silence_ms" in msg and not 100 <= msg["vad_silence_ms"] <= 10000:
            raise ProtocolError("invalid_message", "vad_silence_ms must be between 100 and 10000")
    return msg
