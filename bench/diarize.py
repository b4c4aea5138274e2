"""Diarization benchmark on a fixed synthetic set: DER-style figures and word attribution accuracy.

    python -m bench.diarize            # the fixed set, embedded diarizer, < 15 min on 2 cores
    python -m bench.diarize --quick    # two dialogues only

Each dialogue is spoken by distinct espeak-ng voices (offline-assets.md §3) with known turn times,
so the reference needs no human labels. Words come from espeak-ng itself: each turn's words are
spread over the turn's voiced extent in proportion to their length, which is what a transcriber
hands the merge step. The last line printed is exactly ``RESULT word_accuracy=0.xx der=0.xx``.

The helpers here (``make_dialogue``, ``word_accuracy``, ``der``) are reused by the tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000

# Distinct voices by resemblyzer cross-similarity (<= 0.75), from offline-assets.md §3.
VOICES = {
    "A": ("en-us+m3", 30),
    "B": ("en-us+f4", 80),
    "C": ("en-us+klatt4", 40),
    "D": ("en-029+Andy", 50),
    "E": ("en-us+Alicia", 60),
    "F": ("en-us+grandma", 50),
}

LINES = [
    "good morning and thanks for calling the support line how can I help you today",
    "hi I ordered a new laptop last week and it still has not arrived at my house",
    "I am sorry to hear that let me look up your order number in our system",
    "sure the order number is four five six seven and it was placed on monday",
    "thank you I can see the parcel left our warehouse on wednesday afternoon",
    "that is strange because the tracking page has not changed for three days",
    "the courier sometimes forgets to scan the parcel so it may still be moving",
    "could you please contact them and ask where exactly the parcel is right now",
    "of course I will send them a message and call you back within the hour",
    "great that would be very helpful thank you so much for your patience",
    "we also need to talk about the meeting next week before the budget is final",
    "I think the numbers look fine but the marketing team wants a little more",
]


@dataclass
class Dialogue:
    """A synthetic conversation: the WAV, reference turns and reference words (speaker per word)."""

    name: str
    wav: Path
    duration: float
    turns: list[dict] = field(default_factory=list)  # {speaker, start, end}
    words: list[dict] = field(default_factory=list)  # {text, start, end, speaker}

    @property
    def speakers(self) -> list[str]:
        return sorted({t["speaker"] for t in self.turns})


def _speak(text: str, voice: str, pitch: int, rate: int = 165) -> np.ndarray:
    """espeak-ng speech as 16 kHz float32 (sox resamples; ``vol 0.8`` avoids clipping)."""
    import io
    import subprocess

    import soundfile as sf

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "--stdout", text], check=True, capture_output=True
    ).stdout
    raw = subprocess.run(
        ["sox", "-q", "-t", "wav", "-", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-t", "wav", "-", "vol", "0.8"],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout
    audio, _ = sf.read(io.BytesIO(raw), dtype="float32")
    return audio


def _voiced_extent(audio: np.ndarray, threshold: float = 0.02) -> tuple[int, int]:
    """First and last sample above ``threshold`` (espeak pads its output with a little silence)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, len(audio))


def _spread_words(text: str, start: float, end: float, speaker: str) -> list[dict]:
    tokens = text.split()
    weights = np.array([len(t) + 1 for t in tokens], dtype=float)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [
        {"text": t, "start": round(float(a), 3), "end": round(float(b) - 0.02, 3), "speaker": speaker}
        for t, a, b in zip(tokens, edges[:-1], edges[1:], strict=False)
    ]


def make_dialogue(
    out_dir: Path,
    name: str,
    script: list[tuple[str, str]],
    gaps: list[float] | float = 0.6,
    lead: float = 0.5,
    snr_db: float | None = None,
) -> Dialogue:
    """Synthesise ``script`` ([(voice key, text)]) into ``out_dir/name.wav`` with ``gaps`` seconds between turns.

    ``snr_db`` adds white noise at that speech-to-noise ratio (seeded, so the set stays fixed).
    """
    return _assemble(
        out_dir, name, [(key, text, _speak(text, *VOICES[key])) for key, text in script], gaps, lead, snr_db
    )


def make_recording_mix(
    out_dir: Path, name: str, parts: list[tuple[str, Path, str]], gaps: list[float] | float = 0.5
) -> Dialogue:
    """Concatenate real recordings ``[(speaker, 16 kHz wav, transcript)]`` into one conversation."""
    import soundfile as sf

    pieces = []
    for speaker, path, text in parts:
        audio, rate = sf.read(str(path), dtype="float32")
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz")
        pieces.append((speaker, text, audio))
    return _assemble(out_dir, name, pieces, gaps, 0.5, None, threshold=0.01)


def _assemble(
    out_dir: Path,
    name: str,
    pieces: list[tuple[str, str, np.ndarray]],
    gaps,
    lead: float,
    snr_db: float | None,
    threshold: float = 0.02,
) -> Dialogue:
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    gaps = [gaps] * (len(pieces) - 1) if isinstance(gaps, (int, float)) else list(gaps)
    pieces_out = [np.zeros(int(lead * SAMPLE_RATE), np.float32)]
    offset = len(pieces_out[0])
    dialogue = Dialogue(name, out_dir / f"{name}.wav", 0.0)
    for i, (key, text, audio) in enumerate(pieces):
        first, last = _voiced_extent(audio, threshold)
        audio = np.asarray(audio[first:last], np.float32)
        start, end = offset / SAMPLE_RATE, (offset + len(audio)) / SAMPLE_RATE
        dialogue.turns.append({"speaker": key, "start": round(start, 3), "end": round(end, 3)})
        dialogue.words += _spread_words(text, start, end, key)
        pieces_out.append(audio)
        offset += len(audio)
        gap = gaps[i] if i < len(gaps) else lead
        pieces_out.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
        offset += int(gap * SAMPLE_RATE)
    audio = np.concatenate(pieces_out)
    if snr_db is not None:
        speech = np.concatenate([p for p in pieces_out if np.any(p)])
        noise_rms = np.sqrt(np.mean(speech**2)) / (10 ** (snr_db / 20))
        audio = audio + np.random.default_rng(0).normal(0, noise_rms, len(audio)).astype(np.float32)
        audio = np.clip(audio, -1, 1)
    sf.write(str(dialogue.wav), audio, SAMPLE_RATE, subtype="PCM_16")
    dialogue.duration = round(len(audio) / SAMPLE_RATE, 3)
    return dialogue


def fixed_set(out_dir: Path, quick: bool = False) -> list[Dialogue]:
    """The benchmark's dialogues: 2 to 4 voices, pauses from 0.15 s to 1 s, turns of 1 to 5 s."""
    L = LINES
    specs = [
        ("two_voices", [("A", L[0]), ("B", L[1]), ("A", L[2]), ("B", L[3]), ("A", L[4]), ("B", L[5])], 0.6),
        ("three_voices", [("A", L[0]), ("B", L[1]), ("C", L[2]), ("A", L[3]), ("B", L[4]), ("C", L[5])], 0.5),
        ("short_gaps", [("B", L[6]), ("D", L[7]), ("B", L[8]), ("D", L[9]), ("B", L[10])], [0.3, 0.2, 0.3, 0.15]),
        (
            "four_voices",
            [("A", L[0]), ("E", L[1]), ("D", L[2]), ("F", L[3]), ("A", L[4]), ("E", L[5]), ("D", L[6]), ("F", L[7])],
            0.5,
        ),
        (
            "short_turns",
            [
                ("C", "yes"),
                ("E", "no I do not think so"),
                ("C", "why not"),
                ("E", L[11]),
                ("C", "okay fine"),
                ("E", L[9]),
            ],
            0.5,
        ),
        ("monologue", [("D", L[10]), ("D", L[11]), ("D", L[4])], 0.8),
    ]
    if quick:
        specs = specs[:2]
    dialogues = [make_dialogue(out_dir, name, script, gaps) for name, script, gaps in specs]
    if not quick:
        dialogues.append(
            make_dialogue(out_dir, "no_gaps", [("A", L[1]), ("E", L[2]), ("B", L[3]), ("A", L[4]), ("E", L[5])], 0.0)
        )
        # the closest pair of voices (A, C: similarity 0.67) with no pause at any change: a known weakness
        dialogues.append(
            make_dialogue(
                out_dir, "no_gaps_alike", [("A", L[1]), ("C", L[2]), ("B", L[3]), ("A", L[4]), ("C", L[5])], 0.0
            )
        )
        dialogues.append(
            make_dialogue(out_dir, "noisy_20db", [("B", L[6]), ("F", L[7]), ("B", L[8]), ("F", L[9])], 0.5, snr_db=20)
        )
        real = real_recordings()
        if real:
            dialogues.append(make_recording_mix(out_dir, "real_mix", real, 0.5))
    return dialogues


POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")  # Debian pocketsphinx-testdata (optional)


def real_recordings() -> list[tuple[str, Path, str]]:
    """Two real speakers (a LibriVox reader and the 'cards' speaker) when pocketsphinx-testdata is installed."""

    def book(n: str) -> Path:
        return POCKETSPHINX_DATA / "librivox" / f"sense_and_sensibility_01_austen_64kb-{n}.wav"

    def cards(n: str) -> Path:
        return POCKETSPHINX_DATA / "cards" / f"{n}.wav"

    parts = [
        ("L", book("0880"), "he was not an ill disposed young man"),
        ("K", cards("005"), "eight of spades four of clubs seven of hearts"),
        ("L", book("0930"), "he might even have been made amiable himself"),
        ("K", cards("002"), "four queen of clubs"),
        ("L", book("0890"), "unless to be rather cold hearted and rather selfish is to be ill disposed"),
        ("K", cards("003"), "seven of clubs"),
    ]
    return parts if all(p.exists() for _, p, _ in parts) else []


# ---------------------------------------------------------------- scoring


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def label_mapping(reference: list[dict], hypothesis: list[dict]) -> dict:
    """Map hypothesis speakers to reference speakers one-to-one by total overlap (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    ref = sorted({t["speaker"] for t in reference})
    hyp = sorted({t["speaker"] for t in hypothesis})
    if not ref or not hyp:
        return {}
    cost = np.zeros((len(hyp), len(ref)))
    for h in hypothesis:
        for r in reference:
            shared = _overlap(h["start"], h["end"], r["start"], r["end"])
            cost[hyp.index(h["speaker"]), ref.index(r["speaker"])] -= shared
    rows, cols = linear_sum_assignment(cost)
    return {hyp[i]: ref[j] for i, j in zip(rows, cols, strict=False)}


def reference_speaker(turns: list[dict], t: float) -> str | None:
    return next((x["speaker"] for x in turns if x["start"] <= t < x["end"]), None)


def word_accuracy(words: list[dict], reference: list[dict], hypothesis: list[dict] | None = None) -> tuple[float, int]:
    """Fraction of words inside a reference turn whose speaker (mapped) is that turn's speaker.

    Words are placed by their midpoint; words in gaps between reference turns are not scored.
    Hypothesis labels are mapped onto reference labels by best overlap of ``hypothesis`` turns, or,
    without turns, of the words themselves.
    """
    spans = (
        hypothesis
        if hypothesis is not None
        else [
            {"speaker": w["speaker"], "start": w["start"], "end": max(w["end"], w["start"] + 0.01)}
            for w in words
            if w.get("speaker")
        ]
    )
    mapping = label_mapping(reference, spans)
    scored = correct = 0
    for w in words:
        truth = reference_speaker(reference, (w["start"] + w["end"]) / 2)
        if truth is None:
            continue
        scored += 1
        correct += mapping.get(w.get("speaker")) == truth
    return (correct / scored if scored else 0.0), scored


def der(reference: list[dict], hypothesis: list[dict], collar: float = 0.0) -> dict:
    """Diarization error rate and its parts, with pyannote.metrics when installed, else computed here."""
    try:
        from pyannote.core import Annotation, Segment
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError:
        return _der_frames(reference, hypothesis)
    ref, hyp = Annotation(), Annotation()
    for i, t in enumerate(reference):
        ref[Segment(t["start"], t["end"]), i] = t["speaker"]
    for i, t in enumerate(hypothesis):
        hyp[Segment(t["start"], t["end"]), i] = t["speaker"]
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = metric(ref, hyp, detailed=True)
    total = parts["total"] or 1.0
    return {
        "der": parts["diarization error rate"],
        "miss": parts["missed detection"] / total,
        "false_alarm": parts["false alarm"] / total,
        "confusion": parts["confusion"] / total,
        "total": parts["total"],
        "engine": "pyannote.metrics",
    }


def _der_frames(reference: list[dict], hypothesis: list[dict], step: float = 0.01) -> dict:
    """Frame-level DER (10 ms) with the optimal one-to-one mapping: the fallback without pyannote.metrics."""
    end = max([t["end"] for t in reference + hypothesis] + [0.0])
    n = int(np.ceil(end / step)) + 1
    mapping = label_mapping(reference, hypothesis)

    def frames(turns, rename=None):
        sets = [set() for _ in range(n)]
        for t in turns:
            label = rename.get(t["speaker"], f"?{t['speaker']}") if rename is not None else t["speaker"]
            for k in range(int(t["start"] / step), min(n, int(t["end"] / step))):
                sets[k].add(label)
        return sets

    ref, hyp = frames(reference), frames(hypothesis, mapping)
    total = miss = fa = conf = 0
    for r, h in zip(ref, hyp, strict=False):
        total += len(r)
        miss += max(0, len(r) - len(h))
        fa += max(0, len(h) - len(r))
        conf += min(len(r), len(h)) - len(r & h)
    t = total or 1
    return {
        "der": (miss + fa + conf) / t,
        "miss": miss / t,
        "false_alarm": fa / t,
        "confusion": conf / t,
        "total": total * step,
        "engine": "frames",
    }


# ---------------------------------------------------------------- run


def run(out_dir: Path, quick: bool = False) -> dict:
    from workers.engines.diarization import EmbeddedDiarizer
    from workers.speakers import assign_speakers

    t0 = time.time()
    dialogues = fixed_set(out_dir, quick)
    logger.info("synthesised %d dialogues in %.1fs", len(dialogues), time.time() - t0)
    diarizer = EmbeddedDiarizer().load()  # model loading is not part of the real-time factor
    rows, all_correct, all_scored, speech, errors = [], 0.0, 0, 0.0, 0.0
    for d in dialogues:
        t1 = time.time()
        turns = diarizer.diarize(d.wav)
        elapsed = time.time() - t1
        words = assign_speakers([{k: w[k] for k in ("text", "start", "end")} for w in d.words], turns)
        acc, scored = word_accuracy(words, d.turns)
        figures = der(d.turns, turns)
        rows.append(
            {
                "name": d.name,
                "duration": d.duration,
                "ref_speakers": len(d.speakers),
                "hyp_speakers": len({t["speaker"] for t in turns}),
                "der": figures["der"],
                "miss": figures["miss"],
                "false_alarm": figures["false_alarm"],
                "confusion": figures["confusion"],
                "word_accuracy": acc,
                "words": scored,
                "rtf": elapsed / d.duration,
                "engine": figures["engine"],
            }
        )
        all_correct += acc * scored
        all_scored += scored
        speech += figures["total"]
        errors += figures["der"] * figures["total"]
    return {"rows": rows, "word_accuracy": all_correct / max(all_scored, 1), "der": errors / max(speech, 1e-9)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two dialogues only")
    parser.add_argument("--out", type=Path, default=None, help="keep the synthetic audio here")
    parser.add_argument("--json", action="store_true", help="print the per-dialogue rows as JSON too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="budgie-bench-diarize-") as tmp:
        result = run(args.out or Path(tmp), args.quick)
    print(
        f"{'dialogue':<14}{'dur s':>7}{'ref':>5}{'hyp':>5}{'DER':>7}{'miss':>7}{'FA':>7}{'conf':>7}"
        f"{'words':>7}{'acc':>7}{'RTF':>7}"
    )
    for r in result["rows"]:
        print(
            f"{r['name']:<14}{r['duration']:>7.1f}{r['ref_speakers']:>5}{r['hyp_speakers']:>5}{r['der']:>7.3f}"
            f"{r['miss']:>7.3f}{r['false_alarm']:>7.3f}{r['confusion']:>7.3f}{r['words']:>7}"
            f"{r['word_accuracy']:>7.3f}{r['rtf']:>7.3f}"
        )
    if args.json:
        print(json.dumps(result["rows"], indent=2))
    print(f"DER computed with {result['rows'][0]['engine']}, no collar, overlap scored")
    print(f"RESULT word_accuracy={result['word_accuracy']:.2f} der={result['der']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
