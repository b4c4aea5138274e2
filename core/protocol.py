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
CLOSE_NOT_SERVED = 4404  # the model exists but no live streaming worker serves it (4503: all are full)
CLOSE_IDLE = 4408  # nothing received for idle_timeout_s
CLOSE_PROTOCOL = 4409  # the client broke the protocol in a way the session cannot survive
CLOSE_TOO_LARGE = 4413  # a binary frame over max_frame_bytes
CLOSE_RATE_LIMITED = 4429  # the tenant's concurrent-session quota is used up
CLOSE_BAD_AUDIO = 4415  # a webm/ogg stream that cannot be demuxed or decoded
CLOSE_LAG = 4504  # the worker fell further behind this session than stream_max_lag_s
CLOSE_WORKER_LOST = 4502  # the relay lost its streaming worker
CLOSE_NO_CAPACITY = 4503  # no worker has a free session slot for the model

# decoded by workers.streaming.decoding (raw) and workers.streaming.containers (webm, ogg)
ENCODINGS = ("pcm_s16le", "pcm_f32le", "mulaw", "alaw", "webm", "ogg")
ENCODING_ALIASES = {"linear16": "pcm_s16le"}
CONTAINER_ENCODINGS = ("webm", "ogg")  # the rate comes from the stream; `sample_rate` is ignored
G711_ENCODINGS = ("mulaw", "alaw")  # telephony: `sample_rate` defaults to 8000
MIN_RATE, MAX_RATE = 8000, 48000
CONTROL_TYPES = ("flush", "end", "config", "keepalive", "clear")
CONFIG_KEYS = {
    "interim_results": bool,
    "word_timestamps": bool,
    "vad_threshold": float,
    "vad_silence_ms": int,
    "utterance_end_ms": int,
    "language": str,
}
# numeric settings a client may give as query parameters or in a config message: (low, high)
RANGES: dict[str, tuple[float, float]] = {
    "vad_threshold": (0.05, 0.95),
    "vad_silence_ms": (100, 10000),
    "utterance_end_ms": (300, 60000),
    "max_lag_s": (0.5, 3600),
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
    sample_rate: int | None  # None for containers (webm, ogg): the stream says
    interim_results: bool
    word_timestamps: bool
    chunk_ms: int | None = None  # a trained attention context of a cache-aware model (None: the worker's default)
    vad_threshold: float | None = None  # None: the worker's BUDGIE_VAD_THRESHOLD
    vad_silence_ms: int | None = None  # None: the worker's BUDGIE_VAD_SILENCE_MS
    utterance_end_ms: int | None = None  # None: no utterance_end events
    max_lag_s: float | None = None  # a stricter lag limit than the worker's BUDGIE_STREAM_MAX_LAG_S

    @property
    def container(self) -> bool:
        return self.encoding in CONTAINER_ENCODINGS


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


def _number(args: Mapping[str, str], names: tuple[str, ...], kind: type[int] | type[float]) -> float | int | None:
    """An optional bounded number given under any of ``names`` (the first is the canonical one)."""
    for name in names:
        raw = args.get(name)
        if raw is None or raw == "":
            continue
        low, high = RANGES[names[0]]
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            what = "an integer" if kind is int else "a number"
            raise ProtocolError(
                "invalid_parameters", f"{name} must be {what} from {low:g} to {high:g}, not '{raw}'", CLOSE_BAD_PARAMS
            )
        return value
    return None


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
    encoding = ENCODING_ALIASES.get(encoding, encoding)
    if encoding not in ENCODINGS:
        names = ", ".join([*ENCODINGS, *ENCODING_ALIASES])
        raise ProtocolError(
            "invalid_parameters", f"encoding must be one of {names}, not '{encoding}'", CLOSE_BAD_PARAMS
        )
    raw_rate = args.get("sample_rate") or ("8000" if encoding in G711_ENCODINGS else "16000")
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
    threshold = _number(args, ("vad_threshold",), float)
    silence = _number(args, ("vad_silence_ms", "endpointing"), int)
    utterance_end = _number(args, ("utterance_end_ms",), int)
    max_lag = _number(args, ("max_lag_s",), float)
    params = SessionParams(
        model=entry.id,
        language="en" if language == "auto" else language,
        encoding=encoding,
        sample_rate=None if encoding in CONTAINER_ENCODINGS else rate,
        interim_results=_bool(args, "interim_results", True),
        word_timestamps=_bool(args, "word_timestamps", True),
        chunk_ms=_chunk_ms(args, entry),
        vad_threshold=None if threshold is None else float(threshold),
        vad_silence_ms=None if silence is None else int(silence),
        utterance_end_ms=None if utterance_end is None else int(utterance_end),
        max_lag_s=None if max_lag is None else float(max_lag),
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
        for key, (low, high) in RANGES.items():
            if key in msg and not low <= msg[key] <= high:
                raise ProtocolError("invalid_message", f"{key} must be between {low:g} and {high:g}")
    return msg
