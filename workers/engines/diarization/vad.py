"""Speech regions for diarization with Silero VAD (weights inside the ``silero-vad`` wheel).

Diarization wants shorter pauses split than chunking does (``workers.engines.chunking`` keeps
300 ms): two speakers often answer each other within 150 ms.
"""

from __future__ import annotations

import logging

import numpy as np

from core.audio import SAMPLE_RATE
from workers.engines.silero import speech_timestamps

logger = logging.getLogger(__name__)


def speech_regions(
    audio: np.ndarray, min_silence_ms: int = 120, min_speech_ms: int = 150, pad_ms: int = 30
) -> list[tuple[float, float]]:
    """Return (start, end) seconds of speech in 16 kHz mono ``audio``."""
    if len(audio) < SAMPLE_RATE // 10:
        return []
    stamps = speech_timestamps(
        audio, min_silence_duration_ms=min_silence_ms, min_speech_duration_ms=min_speech_ms, speech_pad_ms=pad_ms
    )
    return [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in stamps]
