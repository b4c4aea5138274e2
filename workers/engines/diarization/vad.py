"""Speech regions for diarization with Silero VAD (weights inside the ``silero-vad`` wheel).

Diarization wants shorter pauses split than chunking does (``workers.engines.chunking`` keeps
300 ms): two speakers often answer each other within 150 ms.
"""
from __future__ import annotations

import functools
import logging

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=1)
def _model():
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=False)


def speech_regions(audio: np.ndarray, min_silence_ms: int = 120, min_speech_ms: int = 150,
                   pad_ms: int = 30) -> list[tuple[float, float]]:
    """Return (start, end) seconds of speech in 16 kHz mono ``audio``."""
    import torch
    from silero_vad import get_speech_timestamps

    if len(audio) < SAMPLE_RATE // 10:
        return []
    with torch.no_grad():
        stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), _model(),
                                       sampling_rate=SAMPLE_RATE, min_silence_duration_ms=min_silence_ms,
                                       min_speech_duration_ms=min_speech_ms, speech_pad_ms=pad_ms)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
