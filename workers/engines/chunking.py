"""Split long audio at silences so memory stays bounded whatever the file length.

Full-context attention costs O(frames^2) memory; a 20-minute file can exhaust a GPU. Budgie
transcribes files longer than ``max_chunk_s`` as independent chunks cut inside pauses found by
Silero VAD (and hard-cut only inside speech longer than a chunk), then offsets word times.
Silence between chunks is never sent to the model.
"""

from __future__ import annotations

import numpy as np

from core.audio import SAMPLE_RATE
from workers.engines.silero import speech_timestamps

PAD_S = 0.2  # keep this much audio around each speech region


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Return (start, end) sample indices of speech according to Silero VAD."""
    return speech_timestamps(audio, min_silence_duration_ms=300)


def plan_chunks(regions: list[tuple[int, int]], total: int, max_len: int, pad: int) -> list[tuple[int, int]]:
    """Pack speech regions into chunks of at most ``max_len`` samples, cutting only in pauses
    unless a single region is longer than a chunk."""
    pieces: list[tuple[int, int]] = []
    for start, end in regions:
        start, end = max(0, start - pad), min(total, end + pad)
        while end - start > max_len:
            pieces.append((start, start + max_len))
            start += max_len
        pieces.append((start, end))
    chunks: list[tuple[int, int]] = []
    for start, end in pieces:
        if chunks and end - chunks[-1][0] <= max_len:
            chunks[-1] = (chunks[-1][0], max(chunks[-1][1], end))
        else:
            chunks.append((start, end))
    return chunks


def split_long_audio(audio: np.ndarray, max_chunk_s: float) -> list[tuple[int, int]]:
    """Return chunk boundaries (samples); a file no longer than ``max_chunk_s`` is one chunk."""
    total = len(audio)
    max_len = int(max_chunk_s * SAMPLE_RATE)
    if total <= max_len:
        return [(0, total)]
    return plan_chunks(speech_regions(audio), total, max_len, int(PAD_S * SAMPLE_RATE))
