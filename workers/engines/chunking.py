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
SILENCE_DBFS = -60.0  # windows quieter than this are not even shown to the VAD
WINDOW_S = 0.1
HANGOVER_S = 0.5  # keep this much around every loud window, so the VAD sees speech onsets whole


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Return (start, end) sample indices of speech according to Silero VAD.

    Silero only looks at the spans an energy gate finds loud: hours of digital silence cost a
    few numpy passes instead of minutes of VAD.
    """
    regions: list[tuple[int, int]] = []
    for start, end in loud_spans(audio):
        regions += [(start + a, start + b) for a, b in speech_timestamps(audio[start:end], min_silence_duration_ms=300)]
    return regions


def loud_spans(audio: np.ndarray, block_s: float = 600.0) -> list[tuple[int, int]]:
    """(start, end) samples of the stretches louder than ``SILENCE_DBFS`` (plus a hangover), merged."""
    window = int(WINDOW_S * SAMPLE_RATE)
    threshold = 10 ** (SILENCE_DBFS / 20)
    loud_windows: list[np.ndarray] = []
    block = int(block_s / WINDOW_S) * window
    for offset in range(0, len(audio), block):  # in blocks: no full-length temporary for long files
        piece = audio[offset : offset + block]
        n = -(-len(piece) // window)
        padded = np.zeros(n * window, dtype=np.float32)
        padded[: len(piece)] = piece
        rms = np.sqrt(np.mean(np.square(padded.reshape(n, window)), axis=1))
        loud_windows.append(np.flatnonzero(rms > threshold) + offset // window)
    hangover = int(HANGOVER_S * SAMPLE_RATE)
    spans: list[tuple[int, int]] = []
    for index in np.concatenate(loud_windows) if loud_windows else []:
        start, end = max(0, int(index) * window - hangover), min(len(audio), (int(index) + 1) * window + hangover)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


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
