"""Build the final transcript from the stage artifacts (pure functions, easy to test)."""

from __future__ import annotations

from typing import Any

from core.transcript import Transcript, Word, segments_from_words


def assemble(
    transcript: Transcript, granularity: str = "word", turns: list[dict[str, Any]] | None = None
) -> Transcript:
    """Return the job result: text, language, duration, segments, words and speakers.

    ``granularity``: ``word`` keeps word times, ``segment`` keeps only segment times, ``none``
    keeps only the text. ``turns`` (speaker turns from diarization) are applied in the speakers stage.
    """
    words: list[Word] = [Word(**w) for w in transcript["words"]]
    speakers: list[str] = []
    if turns is not None:
        from workers.speakers import assign_speakers

        words = assign_speakers(words, turns)
        speakers = sorted({s for w in words if (s := w.get("speaker"))})
    segments = segments_from_words(words) if words else []
    result: Transcript = {
        "text": " ".join(w["text"] for w in words) if words else transcript.get("text", ""),
        "language": transcript.get("language", "en"),
        "duration": transcript.get("duration"),
        "segments": segments,
        "words": words,
        "speakers": speakers,
    }
    if granularity == "segment":
        result["words"] = []
        for seg in segments:
            seg["words"] = []
    elif granularity == "none":
        result["words"] = []
        result["segments"] = []
    return result
