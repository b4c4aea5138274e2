"""From labelled windows to speaker turns: per-frame voting, short-run smoothing, labels in order.

A 1.5 s window straddling a speaker change carries both voices, so each 10 ms frame takes the
speaker whose centroid the covering windows resemble most, weighted towards each window's centre.
"""

from __future__ import annotations

import itertools

import numpy as np

from workers.speakers import relabel as label_in_order  # noqa: F401  (one naming rule for all engines)

STEP_S = 0.01
MIN_RUN_S = 0.25  # a speaker run shorter than this inside one speech region is a flicker
MERGE_GAP_S = 0.0  # same-speaker turns this close are joined (0: keep VAD pauses visible)


def frame_scores(spans: np.ndarray, scores: np.ndarray, n_frames: int) -> np.ndarray:
    """Sum window scores (n, k) into frames (n_frames, k) with a triangular weight peaking mid-window."""
    out = np.zeros((n_frames, scores.shape[1]))
    for (start, end), row in zip(spans, scores, strict=False):
        a, b = round(start / STEP_S), min(n_frames, round(end / STEP_S))
        if b <= a:
            continue
        weight = 1.0 - np.abs(np.linspace(-1, 1, b - a)) * 0.9
        out[a:b] += weight[:, None] * row[None, :]
    return out


def smooth_runs(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Give runs shorter than ``min_frames`` to the longer neighbouring run, shortest runs first."""
    labels = labels.copy()
    while True:
        runs = _runs(labels)
        if len(runs) < 2:
            return labels
        short = [i for i, (a, b, _) in enumerate(runs) if b - a < min_frames]
        if not short:
            return labels
        i = min(short, key=lambda j: runs[j][1] - runs[j][0])
        a, b, _ = runs[i]
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        pick = max((r for r in (left, right) if r is not None), key=lambda r: r[1] - r[0])
        labels[a:b] = pick[2]


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    if len(labels) == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], edges, [len(labels)]])
    return [(int(a), int(b), int(labels[a])) for a, b in itertools.pairwise(bounds)]


def region_turns(regions: list[tuple[float, float]], spans: np.ndarray, scores: np.ndarray) -> list[dict]:
    """Turns with integer speakers: each speech region split where the frame-wise best speaker changes."""
    if len(spans) == 0 or not regions:
        return []
    n_frames = int(np.ceil(max(max(e for _, e in regions), spans[:, 1].max()) / STEP_S)) + 1
    votes = frame_scores(spans, scores, n_frames)
    covered = votes.sum(axis=1) > 0
    centres = spans.mean(axis=1)
    turns = []
    for start, end in regions:
        a, b = round(start / STEP_S), min(n_frames, round(end / STEP_S))
        if b <= a:
            continue
        labels = np.argmax(votes[a:b], axis=1)
        if not covered[a:b].any():  # too short to embed: the speaker of the nearest window
            nearest = int(np.argmin(np.abs(centres - (start + end) / 2)))
            labels[:] = int(np.argmax(scores[nearest]))
        else:  # frames a window did not reach take the closest covered frame's speaker
            idx = np.flatnonzero(covered[a:b])
            fill = idx[np.clip(np.searchsorted(idx, np.arange(b - a)), 0, len(idx) - 1)]
            labels = labels[fill]
        labels = smooth_runs(labels, int(MIN_RUN_S / STEP_S))
        for ra, rb, speaker in _runs(labels):
            turns.append({"speaker": speaker, "start": round((a + ra) * STEP_S, 3), "end": round((a + rb) * STEP_S, 3)})
    return join_turns(turns, MERGE_GAP_S)


def join_turns(turns: list[dict], gap_s: float) -> list[dict]:
    """Join consecutive turns of one speaker separated by at most ``gap_s``."""
    out: list[dict] = []
    for turn in sorted(turns, key=lambda t: (t["start"], t["end"])):
        if out and out[-1]["speaker"] == turn["speaker"] and turn["start"] - out[-1]["end"] <= gap_s:
            out[-1]["end"] = max(out[-1]["end"], turn["end"])
        else:
            out.append(dict(turn))
    return out
