"""A finished Budgie job in OpenAI's response shapes (``json``, ``text``, ``srt``, ``vtt``, ``verbose_json``)
and its progress as OpenAI's streaming events (``transcript.text.delta`` ... ``transcript.text.done``)."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

from app.services import exports

LANGUAGE_NAMES = {"en": "english"}  # verbose_json names the language as Whisper does


def _usage(result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(float(result.get("duration") or 0.0))}


def _compression_ratio(text: str) -> float:
    raw = text.encode()
    return round(len(raw) / len(zlib.compress(raw)), 3) if raw else 0.0


def _segment(segment: dict[str, Any]) -> dict[str, Any]:
    """One segment with Whisper's fields; those an RNNT has no counterpart for are neutral values
    (``tokens`` empty, ``temperature`` 0, ``no_speech_prob`` 0) and ``avg_logprob`` comes from word confidence."""
    confidences = [w["confidence"] for w in segment.get("words") or [] if w.get("confidence")]
    avg_logprob = sum(math.log(c) for c in confidences) / len(confidences) if confidences else 0.0
    out = {
        "id": segment["id"],
        "seek": round(segment["start"] * 100),
        "start": segment["start"],
        "end": segment["end"],
        "text": segment["text"],
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": round(avg_logprob, 4),
        "compression_ratio": _compression_ratio(segment["text"]),
        "no_speech_prob": 0.0,
    }
    if segment.get("speaker"):
        out["speaker"] = segment["speaker"]
    return out


def _word(word: dict[str, Any]) -> dict[str, Any]:
    out = {"word": word["text"], "start": word["start"], "end": word["end"]}
    if word.get("speaker"):
        out["speaker"] = word["speaker"]
    return out


def verbose_json(result: dict[str, Any], task: str, granularities: list[str]) -> dict[str, Any]:
    """``segments`` unless only words were asked for, ``words`` when asked for (OpenAI's rule)."""
    wanted = set(granularities or ["segment"])
    out: dict[str, Any] = {
        "task": task,
        "language": LANGUAGE_NAMES.get(result.get("language") or "", result.get("language") or ""),
        "duration": result.get("duration") or 0.0,
        "text": result.get("text") or "",
    }
    if "segment" in wanted:
        out["segments"] = [_segment(s) for s in result.get("segments") or []]
    if "word" in wanted:
        out["words"] = [_word(w) for w in result.get("words") or []]
    out["usage"] = _usage(result)
    return out


def body(result: dict[str, Any], response_format: str, task: str, granularities: list[str]) -> tuple[Any, str]:
    """(body, content type) for ``response_format``; ``srt`` and ``vtt`` are the native exports."""
    if response_format == "json":
        return {"text": result.get("text") or "", "usage": _usage(result)}, "application/json"
    if response_format == "verbose_json":
        return verbose_json(result, task, granularities), "application/json"
    if response_format == "text":
        return (result.get("text") or "") + "\n", "text/plain; charset=utf-8"
    return exports.render(response_format, result)


def event(payload: dict[str, Any]) -> str:
    """One server-sent event as OpenAI sends them (a ``data:`` line with the JSON event)."""
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def delta(text: str) -> str:
    return event({"type": "transcript.text.delta", "delta": text})


def done(text: str) -> str:
    return event({"type": "transcript.text.done", "text": text})


def error_event(error: dict[str, Any]) -> str:
    return event(error)
