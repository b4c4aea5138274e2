"""Word-level speaker attribution: reconcile ASR word times with diarization turns.

Rules (after Dalston's merge, docs/diarization.md):

1. Turns shorter than ``FLICKER_S`` (250 ms) next to another turn are diarizer flicker; they are
   absorbed into their longer neighbour before any word is attributed.
2. Each word takes the speaker whose turns overlap it the longest (overlapping turns are fine).
3. A sentence-final word (ending in . ! or ?) takes the speaker talking at its start when there is
   one: ASR end times of final words tend to run on into the pause, or the next speaker's turn.
4. A word no turn overlaps (it sits in a pause, or has zero length) takes the nearest turn's speaker.
5. Speakers are renamed ``SPEAKER_00``, ``SPEAKER_01`` ... in order of first appearance.

With no turns at all every word's speaker is ``None``. Pure Python, so it is cheap to test.
"""

from __future__ import annotations

import bisect
import logging
from itertools import accumulate
from typing import Any

from core.transcript import Word

logger = logging.getLogger(__name__)

FLICKER_S = 0.25  # turns shorter than this are smoothed into a neighbour
NEIGHBOUR_GAP_S = 0.5  # ... when that neighbour is at most this far away
SENTENCE_END = (".", "!", "?")


def relabel(turns: list[dict]) -> list[dict]:
    """Sorted copies of ``turns`` with speakers renamed ``SPEAKER_nn`` by first appearance."""
    names: dict = {}
    out = []
    for turn in sorted(turns, key=lambda t: (t["start"], t["end"])):
        name = names.setdefault(turn["speaker"], f"SPEAKER_{len(names):02d}")
        out.append({"speaker": name, "start": round(float(turn["start"]), 3), "end": round(float(turn["end"]), 3)})
    return out


def _gap(a: dict, b: dict) -> float:
    """Seconds between two turns; 0 when they touch or overlap."""
    return max(0.0, max(a["start"], b["start"]) - min(a["end"], b["end"]))


def smooth_turns(turns: list[dict], min_s: float = FLICKER_S, gap_s: float = NEIGHBOUR_GAP_S) -> list[dict]:
    """Absorb turns shorter than ``min_s`` into the longer of their neighbours within ``gap_s``.

    Shortest flickers go first; a short turn with no neighbour close by (an isolated "yes") stays.
    """
    turns = sorted(
        (
            {"speaker": t["speaker"], "start": float(t["start"]), "end": float(t["end"])}
            for t in turns
            if t["end"] > t["start"]
        ),
        key=lambda t: (t["start"], t["end"]),
    )
    while True:
        candidates = []
        for i, turn in enumerate(turns):
            length = turn["end"] - turn["start"]
            if length >= min_s:
                continue
            near = [j for j in (i - 1, i + 1) if 0 <= j < len(turns) and _gap(turn, turns[j]) <= gap_s]
            if near:
                candidates.append((length, i, max(near, key=lambda j: turns[j]["end"] - turns[j]["start"])))
        if not candidates:
            return _join_touching(turns)
        _, i, j = min(candidates)
        flicker, host = turns[i], turns[j]
        host["start"], host["end"] = min(host["start"], flicker["start"]), max(host["end"], flicker["end"])
        del turns[i]
        turns.sort(key=lambda t: (t["start"], t["end"]))


def _join_touching(turns: list[dict]) -> list[dict]:
    """Join consecutive turns of one speaker that touch or overlap."""
    out: list[dict] = []
    for turn in turns:
        if out and out[-1]["speaker"] == turn["speaker"] and turn["start"] <= out[-1]["end"] + 1e-6:
            out[-1]["end"] = max(out[-1]["end"], turn["end"])
        else:
            out.append(turn)
    return out


class _TurnIndex:
    """Turns sorted by start with a running maximum of ends, for overlap look-ups in O(log n + k)."""

    def __init__(self, turns: list[dict]):
        self.turns = turns
        self.starts = [t["start"] for t in turns]
        self.max_end = list(accumulate((t["end"] for t in turns), max))

    def overlaps(self, start: float, end: float) -> dict[str, float]:
        """Seconds of overlap per speaker for the span [start, end]."""
        totals: dict[str, float] = {}
        j = bisect.bisect_left(self.starts, end) - 1
        while j >= 0 and self.max_end[j] > start:
            turn = self.turns[j]
            overlap = min(end, turn["end"]) - max(start, turn["start"])
            if overlap > 0:
                totals[turn["speaker"]] = totals.get(turn["speaker"], 0.0) + overlap
            j -= 1
        return totals

    def nearest(self, start: float, end: float) -> str | None:
        """Speaker of the turn closest to the span (ties go to the earlier turn)."""
        mid = (start + end) / 2
        j = bisect.bisect_right(self.starts, mid)
        best, best_d = None, float("inf")
        if j < len(self.turns):  # of the turns starting after the word only the first can be nearest
            best, best_d = self.turns[j]["speaker"], self.turns[j]["start"] - mid
        k = j - 1
        while k >= 0:
            d = max(0.0, mid - self.turns[k]["end"])
            if d <= best_d:
                best, best_d = self.turns[k]["speaker"], d
            if self.max_end[k] < mid - best_d:
                break
            k -= 1
        return best


def assign_speakers(words: list[Word], turns: list[dict[str, Any]] | None) -> list[Word]:
    """Return copies of ``words`` each with ``speaker`` set from ``turns`` (see the module rules)."""
    out: list[Word] = [{**w} for w in words]
    index = _TurnIndex(relabel(smooth_turns(turns or [])))
    if not index.turns:
        for w in out:
            w["speaker"] = None
        return out
    for w in out:
        start, end = w["start"], max(w["end"], w["start"])
        if str(w.get("text", "")).rstrip().endswith(SENTENCE_END) and end > start:
            at_start = index.overlaps(start, min(end, start + 0.01))
            if at_start:
                end = min(end, start + 0.01)
        totals = index.overlaps(start, end) if end > start else {}
        if totals:
            w["speaker"] = min(totals.items(), key=lambda kv: (-kv[1], kv[0]))[0]  # ties: lower label
        else:
            w["speaker"] = index.nearest(start, end)
    return out
