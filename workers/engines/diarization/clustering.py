"""Group window embeddings into speakers: average-linkage agglomerative clustering on cosine distance.

The number of speakers is where the dendrogram crosses ``threshold`` unless the request fixes it
(``num_speakers``) or bounds it (``min_speakers``/``max_speakers``), then clusters are refined by
reassigning every window to its nearest centroid. Pure numpy/scipy so it is unit-testable.
"""

from __future__ import annotations

import logging

import numpy as np

from workers.engines.diarization.base import SpeakerBounds

logger = logging.getLogger(__name__)

THRESHOLD = 0.30  # cosine distance of 2.5 s d-vectors: one voice 0.1-0.2 on average, two voices >= 0.31
MAX_LINKAGE = 2000  # cluster at most this many windows (O(n^2) memory); the rest join by centroid
MIN_CLUSTER = 2  # a cluster of fewer windows is a stray unless the request needs that many speakers
REFINE_ROUNDS = 3


def centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    out = np.stack(
        [
            embeddings[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(embeddings.shape[1])
            for c in range(k)
        ]
    )
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _count_at_threshold(linkage: np.ndarray, threshold: float) -> int:
    from scipy.cluster.hierarchy import fcluster

    return int(fcluster(linkage, t=threshold, criterion="distance").max())


def cluster(
    embeddings: np.ndarray, bounds: SpeakerBounds = SpeakerBounds(), threshold: float = THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels 0..k-1 per window, centroids (k, dim)) for L2-normalised ``embeddings``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, int), np.zeros((0, embeddings.shape[1] if embeddings.ndim == 2 else 0))
    low, high = bounds.range(limit=n)
    if n == 1:
        return np.zeros(1, int), embeddings[:1].copy()
    sample = np.linspace(0, n - 1, MAX_LINKAGE).astype(int) if n > MAX_LINKAGE else np.arange(n)
    tree = linkage(embeddings[sample], method="average", metric="cosine")
    k = int(np.clip(_count_at_threshold(tree, threshold), low, high))
    picked = fcluster(tree, t=k, criterion="maxclust") - 1
    labels = np.full(n, -1)
    labels[sample] = picked
    k = int(picked.max()) + 1
    cents = centroids(embeddings[sample], picked, k)
    for _ in range(REFINE_ROUNDS):
        labels = np.argmax(embeddings @ cents.T, axis=1)
        labels, k = _drop_strays(labels, k, low)
        cents = centroids(embeddings, labels, k)
    labels = np.argmax(embeddings @ cents.T, axis=1)
    logger.debug("clustered %d windows into %d speakers (allowed %d-%d)", n, k, low, high)
    return labels, cents


def _drop_strays(labels: np.ndarray, k: int, low: int) -> tuple[np.ndarray, int]:
    """Renumber the non-empty clusters 0..k-1, dropping tiny ones while more than ``low`` would remain."""
    sizes = np.bincount(labels, minlength=k)
    keep = [c for c in range(k) if sizes[c] > 0]
    for c in sorted(keep, key=lambda c: sizes[c]):
        if len(keep) <= low or sizes[c] >= MIN_CLUSTER:
            break
        keep.remove(c)
    remap = {c: i for i, c in enumerate(keep)}
    return np.array([remap.get(int(c), -1) for c in labels]), len(keep)
