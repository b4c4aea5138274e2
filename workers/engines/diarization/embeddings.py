"""Speaker embeddings over sliding windows with Resemblyzer (GE2E d-vectors, weights in its wheel).

Resemblyzer's own ``embed_utterance`` trims silences with webrtcvad, which moves time stamps, so
Budgie feeds the encoder mel windows cut from the untouched audio instead.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

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


def embed_regions(audio: np.ndarray, regions: list[tuple[float, float]], width: int = WINDOW_FRAMES,
                  hop: int = HOP_FRAMES) -> Windows:
    """Embed sliding windows (``width``/``hop`` in 10 ms frames) inside each speech region of 16 kHz mono ``audio``."""
    import torch
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

    if not regions:
        return Windows(np.zeros((0, 2)), np.zeros((0, 256), np.float32))
    mel = wav_to_mel_spectrogram(normalize_volume(audio, -30, increase_only=True))
    by_width: dict[int, list[int]] = {}
    for start, end in regions:
        starts, used = window_starts(int(start / FRAME_S), min(len(mel), int(np.ceil(end / FRAME_S))), width, hop)
        if starts:
            by_width.setdefault(used, []).extend(starts)
    spans, vectors = [], []
    encoder = _encoder()
    with torch.no_grad():
        for width, starts in by_width.items():
            for i in range(0, len(starts), BATCH):
                batch = starts[i:i + BATCH]
                mels = torch.from_numpy(np.stack([mel[s:s + width] for s in batch]))
                vectors.append(encoder(mels).numpy())
                spans += [(s * FRAME_S, (s + width) * FRAME_S) for s in batch]
    if not spans:
        return Windows(np.zeros((0, 2)), np.zeros((0, 256), np.float32))
    spans_arr = np.asarray(spans)
    order = np.argsort(spans_arr[:, 0], kind="stable")
    emb = np.concatenate(vectors)[order]
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    return Windows(spans_arr[order], emb.astype(np.float32))
