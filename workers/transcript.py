"""The shared transcript format every stage reads and writes.

A transcript is a JSON-able dict::

    {"language": "en", "duration": 12.3, "text": "...",
     "words": [{"text", "start", "end", "confidence", "speaker"}],
     "segments": [{"id", "start", "end", "text", "speaker", "words": [...]}],
     "speakers": ["SPEAKER_00", ...]}

Times are seconds from the start of the prepared audio, rounded to milliseconds.
"""
from __future__ import annotations

SEGMENT_GAP_S = 0.8  # a pause this long starts a new segment
SEGMENT_MAX_S = 15.0  # segments never run longer than this


def make_word(text: str, start: float, end: float, confidence: float | None = None, speaker: str | None = None) -> dict:
    return {
        "text": text,
        "start": round(float(start), 3),
        "end": round(float(max(end, start)), 3),
        "confidence": None if confidence is None else round(float(confidence), 4),
        "speaker": speaker,
    }


def shift_word_times(words: list[dict], shift: tuple[float, float], limit_s: float) -> list[dict]:
    """Move each word's (start, end) by the model's measured ``shift``, clamped to [0, limit_s].

    Starts move back further than ends (the RNNT hears a word's end before it emits it), so a word's
    shifted end can pass the next word's shifted start; it is cut there, because spoken words follow
    each other. Ends never fall before starts (the registry refuses an end shift below the start shift).
    """
    start_shift, end_shift = shift
    out = []
    for word in words:
        start = min(max(0.0, word["start"] + start_shift), limit_s)
        end = min(max(start, word["end"] + end_shift), limit_s)
        out.append({**word, "start": round(start, 3), "end": round(end, 3)})
    for word, following in zip(out, out[1:]):
        if word["end"] > following["start"]:
            word["end"] = max(word["start"], following["start"])
    return out


def segments_from_words(words: list[dict], gap_s: float = SEGMENT_GAP_S, max_s: float = SEGMENT_MAX_S) -> list[dict]:
    """Group time-ordered words into segments at pauses, speaker changes and a maximum length."""
    groups: list[list[dict]] = []
    for word in words:
        current = groups[-1] if groups else None
        if (
            current is None
            or word["start"] - current[-1]["end"] >= gap_s
            or word["end"] - current[0]["start"] > max_s
            or word.get("speaker") != current[-1].get("speaker")
        ):
            groups.append([word])
        else:
            current.append(word)
    return [segment_from_words(i, group) for i, group in enumerate(groups)]


def segment_from_words(segment_id: int, words: list[dict]) -> dict:
    return {
        "id": segment_id,
        "start": words[0]["start"],
        "end": max(w["end"] for w in words),
        "text": " ".join(w["text"] for w in words),
        "speaker": words[0].get("speaker"),
        "words": words,
    }


def transcript_from_words(words: list[dict], duration: float, language: str = "en") -> dict:
    return {
        "language": language,
        "duration": round(float(duration), 3),
        "text": " ".join(w["text"] for w in words),
        "words": words,
        "segments": segments_from_words(words),
        "speakers": [],
    }
