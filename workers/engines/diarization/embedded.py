"""The offline default diarizer: Silero VAD regions, Resemblyzer window embeddings, clustering.

Chosen because every weight it needs ships inside a PyPI wheel (``silero-vad``, ``resemblyzer``),
so it runs on a CPU with no network; pyannote's pretrained weights cannot be fetched here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from workers.engines.diarization.base import DiarizerUnavailable, SpeakerBounds
from workers.engines.diarization.clustering import THRESHOLD, cluster
from workers.engines.diarization.embeddings import Windows, embed_windows, region_mels

logger = logging.getLogger(__name__)

CLUSTER_WINDOW_FRAMES = 250  # 2.5 s windows for clustering: same-voice similarity ~0.85 vs ~0.8 at 1.5 s
CLUSTER_HOP_FRAMES = 50
PURE_SIM = 0.70  # 1.5 s windows of one voice: 0.8 on average; across a change: 0.45-0.67


def pure_windows(long: Windows, short: Windows, min_sim: float = PURE_SIM) -> np.ndarray:
    """Mask of clustering windows whose short sub-windows all sound like one voice.

    A window straddling a speaker change with no pause between embeds as a blend of two voices;
    a few of those form a spurious extra "speaker". They are left out of clustering (frames are still
    scored with the short windows). Every window is kept when fewer than half would remain.
    """
    keep = np.ones(len(long), bool)
    for i, (start, end) in enumerate(long.spans):
        inside = np.flatnonzero((short.spans[:, 0] >= start - 1e-6) & (short.spans[:, 1] <= end + 1e-6))
        if len(inside) >= 2:
            keep[i] = float((short.embeddings[inside] @ short.embeddings[inside].T).min()) >= min_sim
    return keep if keep.sum() >= max(2, len(keep) // 2) else np.ones(len(long), bool)


class EmbeddedDiarizer:
    name = "embedded"

    def __init__(self, threshold: float = THRESHOLD):
        self.threshold = threshold

    def load(self) -> EmbeddedDiarizer:
        """Load both models now so a missing package fails the job with a clear message."""
        try:
            from workers.engines.diarization import embeddings
            from workers.engines.silero import silero_model

            silero_model()
            embeddings._encoder()
        except ImportError as exc:
            raise DiarizerUnavailable(
                f"the embedded diarizer needs silero-vad and resemblyzer ({exc}); "
                "install them with .ci/diarize-deps.sh or pip install -e '.[diarize]'"
            ) from exc
        return self

    def diarize(self, wav: Path, bounds: SpeakerBounds = SpeakerBounds()) -> list[dict]:
        """Return turns ``[{speaker: SPEAKER_nn, start, end}]`` for a 16 kHz mono WAV."""
        from core.audio import read_wav
        from workers.engines.diarization.turns import label_in_order, region_turns
        from workers.engines.diarization.vad import speech_regions

        started = time.time()
        audio = read_wav(wav)
        regions = speech_regions(audio)
        mels = region_mels(audio, regions)
        windows = embed_windows(mels)
        if not len(windows):
            logger.info("no speech long enough to diarize in %s", wav)
            return []
        # two scales: long windows give stable voices to cluster, short ones place the boundaries
        long_windows = embed_windows(mels, CLUSTER_WINDOW_FRAMES, CLUSTER_HOP_FRAMES)
        _labels, centroids = cluster(
            long_windows.embeddings[pure_windows(long_windows, windows)], bounds, self.threshold
        )
        turns = label_in_order(region_turns(regions, windows.spans, windows.embeddings @ centroids.T))
        logger.info(
            "diarized %.1fs of audio: %d regions, %d windows, %d speakers, %d turns in %.1fs",
            len(audio) / 16000,
            len(regions),
            len(windows),
            len(centroids),
            len(turns),
            time.time() - started,
        )
        return turns
