"""The offline default diarizer: Silero VAD regions, Resemblyzer window embeddings, clustering.

Chosen because every weight it needs ships inside a PyPI wheel (``silero-vad``, ``resemblyzer``),
so it runs on a CPU with no network; pyannote's pretrained weights cannot be fetched here.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from workers.engines.diarization.base import DiarizerUnavailable, SpeakerBounds
from workers.engines.diarization.clustering import THRESHOLD, cluster

logger = logging.getLogger(__name__)

CLUSTER_WINDOW_FRAMES = 250  # 2.5 s windows for clustering: same-voice similarity ~0.85 vs ~0.8 at 1.5 s
CLUSTER_HOP_FRAMES = 50


class EmbeddedDiarizer:
    name = "embedded"

    def __init__(self, threshold: float = THRESHOLD):
        self.threshold = threshold

    def load(self) -> "EmbeddedDiarizer":
        """Load both models now so a missing package fails the job with a clear message."""
        try:
            from workers.engines.diarization import embeddings, vad

            vad._model()
            embeddings._encoder()
        except ImportError as exc:
            raise DiarizerUnavailable(
                f"the embedded diarizer needs silero-vad and resemblyzer ({exc}); "
                "install them with .ci/diarize-deps.sh or pip install -e '.[diarize]'") from exc
        return self

    def diarize(self, wav: Path, bounds: SpeakerBounds = SpeakerBounds()) -> list[dict]:
        """Return turns ``[{speaker: SPEAKER_nn, start, end}]`` for a 16 kHz mono WAV."""
        from workers.audio import read_wav
        from workers.engines.diarization.embeddings import embed_windows, region_mels
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
        labels, centroids = cluster(long_windows.embeddings, bounds, self.threshold)
        turns = label_in_order(region_turns(regions, windows.spans, windows.embeddings @ centroids.T))
        logger.info("diarized %.1fs of audio: %d regions, %d windows, %d speakers, %d turns in %.1fs",
                    len(audio) / 16000, len(regions), len(windows), len(centroids), len(turns), time.time() - started)
        return turns
