"""Render a finished transcript as txt, json, srt or vtt.

Exports are rendered on request from the stored result rather than by a worker: they are cheap,
the subtitle rules are query parameters (``max_line_length``, ``max_lines``, ``max_cue_duration``,
``include_speakers``), and jobs finished before a format existed can still be exported.

Subtitle cues never cross a speaker change or a segment boundary, hold at most ``max_lines`` lines
of at most ``max_line_length`` characters (a single longer word gets a line of its own), and last
at most ``max_cue_duration`` seconds. Cues follow word times when the job kept them; otherwise a
segment's time is shared among its cues in proportion to their length.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from app.errors import ApiError
from core import jobstore
from core.jobstore import Job

logger = logging.getLogger(__name__)

FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@dataclass(frozen=True)
class Options:
    max_line_length: int = 42
    max_lines: int = 2
    max_cue_duration: float = 6.0
    include_speakers: bool = True


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


# ---------------------------------------------------------------- line and cue building


def wrap(words: list[str], width: int) -> list[str]:
    """Word wrap to lines of at most ``width`` characters, as even in length as the line count allows.

    An over-long word stays whole on a line of its own.
    """
    lines = _greedy_wrap(words, width)
    if len(lines) > 1:
        total = len(" ".join(words))
        for narrower in range(-(-total // len(lines)), width):
            even = _greedy_wrap(words, narrower)
            if len(even) <= len(lines):
                return even
    return lines


def _greedy_wrap(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _fits(words: list[str], opts: Options, label: str) -> bool:
    lines = wrap(([label] if label else []) + words, opts.max_line_length)
    return len(lines) <= opts.max_lines or len(words) == 1


def _label(speaker: str | None, opts: Options, fmt: str) -> str:
    """The speaker prefix as it appears in the cue text (SRT only; VTT uses a <v> voice tag)."""
    return f"[{speaker}]" if speaker and opts.include_speakers and fmt == "srt" else ""


def _timed_words(segment: dict[str, Any]) -> list[dict[str, Any]]:
    """The segment's words with times, or its text spread over its span by character count."""
    if segment.get("words"):
        return [{"text": w["text"], "start": w["start"], "end": w["end"]} for w in segment["words"]]
    tokens = segment.get("text", "").split()
    if not tokens:
        return []
    total = sum(len(t) + 1 for t in tokens)
    span = max(segment["end"] - segment["start"], 0.0)
    out, t = [], segment["start"]
    for token in tokens:
        step = span * (len(token) + 1) / total
        out.append({"text": token, "start": t, "end": t + step})
        t += step
    return out


def _pack(
    words: list[dict[str, Any]], opts: Options, label: str, max_chars: int | None = None
) -> list[list[dict[str, Any]]]:
    """Greedy grouping of words into cues under the line, duration and (optional) character limits."""
    groups: list[list[dict[str, Any]]] = []
    group: list[dict[str, Any]] = []
    for word in words:
        candidate = [*group, word]
        texts = [w["text"] for w in candidate]
        too_long = word["end"] - candidate[0]["start"] > opts.max_cue_duration
        too_many = max_chars is not None and len(" ".join(texts)) > max_chars
        if group and (too_long or too_many or not _fits(texts, opts, label)):
            groups.append(group)
            group = [word]
        else:
            group = candidate
    if group:
        groups.append(group)
    return groups


def segment_cues(segment: dict[str, Any], opts: Options, fmt: str = "srt") -> list[Cue]:
    """Split one segment (one speaker) into cues that respect the line, line-count and duration limits.

    The cue count is the greedy one; the words are then shared out as evenly as the limits allow, so a
    long sentence does not end in a two-word orphan cue.
    """
    speaker = segment.get("speaker")
    label = _label(speaker, opts, fmt)
    words = _timed_words(segment)
    groups = _pack(words, opts, label)
    if len(groups) > 1:
        total = len(" ".join(w["text"] for w in words))
        for cap in range(-(-total // len(groups)), total + 1):
            balanced = _pack(words, opts, label, cap)
            if len(balanced) <= len(groups):
                groups = balanced
                break
    cues = []
    for group in groups:
        text = ([label] if label else []) + [w["text"] for w in group]
        cues.append(
            Cue(group[0]["start"], max(w["end"] for w in group), tuple(wrap(text, opts.max_line_length)), speaker)
        )
    return cues


def build_cues(result: dict[str, Any], opts: Options, fmt: str = "srt") -> list[Cue]:
    """All cues of a transcript in time order, trimmed so that no two overlap."""
    segments = result.get("segments") or []
    if not segments and result.get("text"):  # granularity "none": one span over the whole file
        end = float(result.get("duration") or 0.0)
        segments = [{"start": 0.0, "end": end, "text": result["text"], "speaker": None}]
    cues = [c for seg in segments for c in segment_cues(seg, opts, fmt)]
    cues.sort(key=lambda c: c.start)
    out = []
    for i, cue in enumerate(cues):
        end = cue.end
        if i + 1 < len(cues):
            end = min(end, cues[i + 1].start)
        end = max(end, cue.start + 0.001)
        out.append(Cue(round(cue.start, 3), round(end, 3), cue.lines, cue.speaker))
    return out


# ---------------------------------------------------------------- formats


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(max(seconds, 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(result: dict[str, Any], opts: Options) -> str:
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n" + "\n".join(c.lines)
        for i, c in enumerate(build_cues(result, opts, "srt"), start=1)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def to_vtt(result: dict[str, Any], opts: Options) -> str:
    blocks = ["WEBVTT"]
    for c in build_cues(result, opts, "vtt"):
        lines = list(c.lines)
        if c.speaker and opts.include_speakers:
            lines[0] = f"<v {c.speaker}>{lines[0]}"
        blocks.append(f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_txt(result: dict[str, Any], opts: Options) -> str:
    """Plain text: one paragraph per speaker turn when speakers are known, else per segment."""
    segments = result.get("segments") or []
    if not segments:
        return (result.get("text") or "") + "\n"
    paragraphs: list[tuple[str | None, list[str]]] = []
    for seg in segments:
        speaker = seg.get("speaker") if opts.include_speakers else None
        if paragraphs and speaker and paragraphs[-1][0] == speaker:
            paragraphs[-1][1].append(seg["text"])
        else:
            paragraphs.append((speaker, [seg["text"]]))
    return "\n".join(f"{s}: {' '.join(t)}" if s else " ".join(t) for s, t in paragraphs) + "\n"


def to_json(result: dict[str, Any], opts: Options) -> str:
    keys = ("text", "language", "duration", "speakers", "segments", "words")
    out = {k: result.get(k) for k in keys}
    if not opts.include_speakers:
        out["speakers"] = []
        out["segments"] = [
            {**s, "speaker": None, "words": [{**w, "speaker": None} for w in s.get("words", [])]}
            for s in out["segments"] or []
        ]
        out["words"] = [{**w, "speaker": None} for w in out["words"] or []]
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"txt": to_txt, "json": to_json, "srt": to_srt, "vtt": to_vtt}


def render(fmt: str, result: dict[str, Any], opts: Options = Options()) -> tuple[str, str]:
    """Return (body, content type) for ``fmt``; raises ApiError 400 for an unknown format."""
    if fmt not in RENDERERS:
        raise ApiError(
            400,
            f"Unknown export format '{fmt}': use one of {', '.join(FORMATS)}",
            "unsupported_format",
            {"formats": list(FORMATS)},
        )
    return RENDERERS[fmt](result, opts), FORMATS[fmt]


def export(job: Job, fmt: str, opts: Options) -> tuple[str, str]:
    """Render a stored job; only completed jobs have a transcript to export (400 otherwise)."""
    if fmt not in RENDERERS:
        return render(fmt, {}, opts)
    result = job.get("result")
    if job["status"] != jobstore.COMPLETED or not result:
        raise ApiError(
            400,
            f"Job {job['id']} is {job['status']}; exports are available once it has completed",
            "job_not_completed",
            {"status": job["status"]},
        )
    return render(fmt, dict(result), opts)
