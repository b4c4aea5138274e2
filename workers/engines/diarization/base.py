"""What every diarizer shares: the speaker-count constraints and the error for a missing engine."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SPEAKERS = 32  # the API's upper bound (app/schemas/transcription.py)


class DiarizerUnavailable(RuntimeError):
    """The configured engine cannot run here (package or weights missing); the message says what to do."""


@dataclass(frozen=True)
class SpeakerBounds:
    """``num_speakers`` / ``min_speakers`` / ``max_speakers`` as the API received them (any may be None)."""

    num: int | None = None
    min: int | None = None
    max: int | None = None

    def range(self, limit: int = MAX_SPEAKERS) -> tuple[int, int]:
        """Inclusive (low, high) speaker counts allowed, never above ``limit`` (e.g. the number of windows)."""
        if self.num is not None:
            low = high = self.num
        else:
            low = self.min if self.min is not None else 1
            high = self.max if self.max is not None else MAX_SPEAKERS
        high = max(1, min(high, limit))
        return min(max(1, low), high), high

    def as_kwargs(self) -> dict:
        """Keyword arguments in pyannote's spelling, leaving out the unset ones."""
        out = {"num_speakers": self.num, "min_speakers": self.min, "max_speakers": self.max}
        return {k: v for k, v in out.items() if v is not None}
