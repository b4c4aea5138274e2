"""The transcript format every stage reads and writes, the API serves and the exports render.

Times are seconds from the start of the prepared audio, rounded to milliseconds.
"""

from __future__ import annotations

from typing import TypedDict

SEGMENT_GAP_S = 0.8  # a pause this long starts a new segment
SEGMENT_MAX_S = 15.0  # segments never run longer than this


class Word(TypedDict):
    text: str
    start: float
    end: float
    confidence: float | None
    speaker: str | None


class Segment(TypedDict):
    id: int
    start: float
    end: float
    text: str
    speaker: str | None
    words: list[Word]


class Transcript(TypedDict):
    """A job's result (``merge`` output) and the ``transcribe`` stage's artifact alike."""

    language: str
    duration: float | None
    text: str
    words: list[Word]
    segments: list[Segment]
    speakers: list[str]


def make_word(text: str, start: float, end: float, confidence: float | None = None, speaker: str | None = None) -> Word:
    return {
        "text": text,
        "start": round(float(start), 3),
        "end": round(float(max(end, start)), 3),
        "confidence": None if confidence is None else round(float(confidence), 4),
        "speaker": speaker,
    }


def segments_from_words(words: list[Word], gap_s: float = SEGMENT_GAP_S, max_s: float = SEGMENT_MAX_S) -> list[Segment]:
    """Group time-ordered words into segments at pauses, speaker changes and a maximum length."""
    groups: list[list[Word]] = []
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


def segment_from_words(segment_id: int, words: list[Word]) -> Segment:
    return {
        "id": segment_id,
        "start": words[0]["start"],
        "end": max(w["end"] for w in words),
        "text": " ".join(w["text"] for w in words),
        "speaker": words[0].get("speaker"),
        "words": words,
    }


def transcript_from_words(words: list[Word], duration: float, language: str = "en") -> Transcript:
    return {
        "language": language,
        "duration": round(float(duration), 3),
        "text": " ".join(w["text"] for w in words),
        "words": words,
        "segments": segments_from_words(words),
        "speakers": [],
    }
