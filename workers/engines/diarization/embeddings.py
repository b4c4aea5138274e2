"""Speaker embeddings over sliding windows with Resemblyzer (GE2E d-vectors, weights in its wheel).

Resemblyzer's own ``embed_utterance`` trims silences with webrtcvad, which moves time stamps, so
Budgie feeds the encoder mel windows cut from the untouched audio instead.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from core.audio import SAMPLE_RATE

logger = logging.getLogger(__name__)

FRAME_S = 0.01  # Resemblyzer's mel hop
WINDOW_FRAMES = 150  # 1.5 s: long enough for a stable d-vector, short enough to resolve a turn
HOP_FRAMES = 25  # 0.25 s between window starts
MIN_FRAMES = 30  # regions shorter than 0.3 s carry too little voice to embed
BATCH = 128


@dataclass(frozen=True)
class Windows:
    """Window spans in seconds (n, 2) and their L2-normalised embeddings (n, 256)."""

    spans: np.ndarray
    embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.spans)


@functools.lru_cache(maxsize=1)
def _encoder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def window_starts(first: int, last: int, width: int = WINDOW_FRAMES, hop: int = HOP_FRAMES) -> tuple[list[int], int]:
    """Window start frames covering [first, last) and their common width; the last window ends at ``last``."""
    length = last - first
    if length < MIN_FRAMES:
        return [], 0
    if length <= width:
        return [first], length
    starts = list(range(first, last - width + 1, hop))
    if starts[-1] != last - width:
        starts.append(last - width)
    return starts, width


def gain_for(audio: np.ndarray, target_dbfs: float = -30.0) -> float:
    """Resemblyzer's volume normalisation (raise quiet audio to -30 dBFS) as one factor, without copying."""
    if len(audio) == 0:
        return 1.0
    rms = float(np.sqrt(np.dot(audio.astype(np.float64, copy=False), audio) / len(audio))) * 32767
    if rms <= 0:
        return 1.0
    change = target_dbfs - 20 * np.log10(rms / 32767)
    return float(10 ** (change / 20)) if change > 0 else 1.0


def region_mels(audio: np.ndarray, regions: list[tuple[float, float]]) -> list[tuple[int, np.ndarray]]:
    """(first frame, mel frames) for each speech region: memory follows the longest region, not the file."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    gain = gain_for(audio)
    hop = round(FRAME_S * SAMPLE_RATE)
    out = []
    for start, end in regions:
        first = int(start / FRAME_S)
        last = min(len(audio), int(np.ceil(end * SAMPLE_RATE)))
        if last - first * hop >= MIN_FRAMES * hop:
            out.append((first, wav_to_mel_spectrogram(audio[first * hop : last] * gain)))
    return out


def embed_windows(mels: list[tuple[int, np.ndarray]], width: int = WINDOW_FRAMES, hop: int = HOP_FRAMES) -> Windows:
    """Embed sliding windows (``width``/``hop`` in 10 ms frames) over each region's mel frames."""
    import torch

    jobs: dict[int, list[tuple[int, np.ndarray]]] = {}  # window width -> (absolute start frame, region mel)
    for first, mel in mels:
        starts, used = window_starts(0, len(mel), width, hop)
        jobs.setdefault(used, []).extend((first + s, mel[s : s + used]) for s in starts)
    spans, vectors = [], []
    encoder = _encoder()
    with torch.no_grad():
        for used, items in jobs.items():
            for i in range(0, len(items), BATCH):
                batch = items[i : i + BATCH]
                vectors.append(encoder(torch.from_numpy(np.stack([m for _, m in batch]))).numpy())
                spans += [(s * FRAME_S, (s + used) * FRAME_S) for s, _ in batch]
    if not spans:
        return Windows(np.zeros((0, 2)), np.zeros((0, 256), np.float32))
    spans_arr = np.asarray(spans)
    order = np.argsort(spans_arr[:, 0], kind="stable")
    emb = np.concatenate(vectors)[order]
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    return Windows(spans_arr[order], emb.astype(np.float32))


def embed_regions(
    audio: np.ndarray, regions: list[tuple[float, float]], width: int = WINDOW_FRAMES, hop: int = HOP_FRAMES
) -> Windows:
    """Embed sliding windows inside each speech region of 16 kHz mono ``audio``."""
    return embed_windows(region_mels(audio, regions), width, hop)
