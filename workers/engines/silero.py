"""Silero VAD, loaded once per process (its weights ship inside the ``silero-vad`` wheel).

Chunking long files, diarization and streaming endpointing all use this one model: the offline
users call :func:`speech_timestamps`; the streaming endpointer calls the model's pure
``_model(x, state)`` directly so each session keeps its own state.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from core.audio import SAMPLE_RATE


@functools.lru_cache(maxsize=1)
def silero_model() -> Any:
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=False)


def speech_timestamps(audio: np.ndarray, **options: Any) -> list[tuple[int, int]]:
    """(start, end) sample indices of speech in 16 kHz mono ``audio``; ``options`` go to Silero's
    ``get_speech_timestamps`` (``min_silence_duration_ms``, ``min_speech_duration_ms``, ``speech_pad_ms``)."""
    import torch
    from silero_vad import get_speech_timestamps

    with torch.no_grad():
        stamps = get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            silero_model(),
            sampling_rate=SAMPLE_RATE,
            **options,
        )
    return [(int(s["start"]), int(s["end"])) for s in stamps]
