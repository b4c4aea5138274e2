"""Accuracy harness for the embedded parakeet-tiny-en model (GitHub issue #3).

Builds a seeded held-out set (cached under ``bench/out/model_wer/``) and scores each transcription *path*:

* ``heldout_trained``: held-out sentences (``train/heldout_sentences.txt``, never trained on) in voices of the training
  set (``train.data.EVAL_TRAINED_VOICES``), seeded rate / pitch;
* ``unseen_voice``: held-out sentences in ``train.data.HELDOUT_VOICE`` (an accent and variant never trained on);
* ``timing``: held-out sentences synthesised word by word (trained voices), each word trimmed to its audible part
  and concatenated with seeded gaps, so every word's start/end is known exactly. Word start/end mean absolute error
  is measured on the words that the hypothesis gets right (jiwer alignment "equal" runs).

Paths (each a function ``(audio paths) -> list[Hyp]``):
  * ``offline``       - ``model.transcribe(..., timestamps=True, return_hypotheses=True)`` (RNNT decoder), at the
                        model's default lookahead and at every other trained lookahead;
  * ``batch_api``     - Budgie's batch HTTP API through a real worker (:func:`transcribe_batch_api`);
  * ``streaming``     - a real Budgie streaming worker at each lookahead (:func:`transcribe_streaming`).
Paths that raise ``NotImplementedError`` are listed in the table as skipped.

    python bench/model_wer.py                       # registry/weights/parakeet-tiny-en.nemo, < 15 min on 2 CPUs
    python bench/model_wer.py --model other.nemo --n-trained 60 --n-unseen 30 --n-timing 20
    python bench/model_wer.py --offline-only        # offline rows only (minutes, not a worker per row)
    python bench/model_wer.py --calibrate           # measure the registry's timestamp_shift_s on 'val' clips

Word times: RNNT emits a word once it has heard it, so raw NeMo times run late by a roughly constant, model-specific
amount. Budgie corrects them by the registry's ``timestamp_shift_s`` (measured here with ``--calibrate`` on the
``val`` held-out sentences, never on the scored ``timing`` clips); the offline rows apply the same shift.

Ends with exactly one line:
``RESULT wer=0.xxx unseen_voice_wer=0.xxx word_start_mae_ms=NN word_end_mae_ms=NN batch_wer=0.xxx stream_wer=0.xxx``
(offline path at the default lookahead; batch API; streaming worker at the largest lookahead).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train.data import EVAL_TRAINED_VOICES, HELDOUT_VOICE, heldout_sentences, synth  # noqa: E402

DEFAULT_MODEL = ROOT / "registry" / "weights" / "parakeet-tiny-en.nemo"
OUT = ROOT / "bench" / "out" / "model_wer"
SEED = 20261125
SR = 16000


@dataclass
class Hyp:
    text: str
    words: list = field(default_factory=list)  # [(word, start_s, end_s)]


@dataclass
class Utt:
    path: str
    text: str
    words: list | None = None  # [(word, start_s, end_s)] when known


# ----------------------------------------------------------------------------- held-out set
def _heldout(kind: str = "test") -> list[str]:
    """Held-out sentences: ``test`` for scoring, ``val`` (also never trained on) for calibration."""
    return heldout_sentences(kind)


def _heldout_test() -> list[str]:
    return _heldout("test")


def _cached(name, build):
    f = OUT / f"{name}.json"
    if f.exists():
        rows = json.loads(f.read_text())
        if all(Path(r["path"]).exists() for r in rows):
            return [Utt(**r) for r in rows]
    utts = build()
    f.write_text(json.dumps([u.__dict__ for u in utts]))
    return utts


def build_sets(n_trained: int, n_unseen: int, n_timing: int):
    OUT.mkdir(parents=True, exist_ok=True)
    sents = _heldout_test()
    rng = random.Random(SEED)
    order = list(range(len(sents)))
    rng.shuffle(order)

    def sentence_set(name, voices, idx):
        def build():
            d = OUT / name
            d.mkdir(exist_ok=True)
            r = random.Random(f"{SEED}-{name}")
            utts = []
            for k, i in enumerate(idx):
                voice = voices[k % len(voices)]
                p = d / f"{k:04d}.wav"
                synth(sents[i], p, voice, r.randint(140, 180), r.randint(35, 65))
                utts.append(Utt(str(p), sents[i]))
            return utts

        return _cached(f"{name}-{len(idx)}", build)

    trained = sentence_set("heldout_trained", EVAL_TRAINED_VOICES, order[:n_trained])
    unseen = sentence_set("unseen_voice", [HELDOUT_VOICE], order[:n_unseen])
    timing = _cached(f"timing-{n_timing}", lambda: _timing_set(sents, order[-n_timing:]))
    return trained, unseen, timing


def _trim(a: np.ndarray, thr_db: float = -35.0):
    """First/last sample of the audible part (10 ms frames within thr_db of the loudest frame)."""
    n = len(a) // 160
    if n == 0:
        return 0, len(a)
    e = 10 * np.log10(np.mean(a[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    on = np.nonzero(e > e.max() + thr_db)[0]
    return int(on[0]) * 160, int(on[-1] + 1) * 160


def _timing_set(sents, idx, name="timing"):
    import soundfile as sf

    d = OUT / name
    (d / "words").mkdir(parents=True, exist_ok=True)
    r = random.Random(f"{SEED}-{name}")
    utts = []
    for k, i in enumerate(idx):
        voice = EVAL_TRAINED_VOICES[k % len(EVAL_TRAINED_VOICES)]
        rate, pitch = r.randint(140, 180), r.randint(35, 65)
        pieces = [np.zeros(int(r.uniform(0.2, 0.4) * SR), np.float32)]
        t = len(pieces[0])
        words = []
        for j, w in enumerate(sents[i].split()):
            wp = d / "words" / f"{k:04d}_{j:02d}.wav"
            synth(w, wp, voice, rate, pitch)
            a, _ = sf.read(str(wp), dtype="float32")
            s, e = _trim(a)
            a = a[s:e]
            words.append((w, t / SR, (t + len(a)) / SR))
            gap = np.zeros(int(r.uniform(0.08, 0.25) * SR), np.float32)
            pieces += [a, gap]
            t += len(a) + len(gap)
        pieces.append(np.zeros(int(0.3 * SR), np.float32))
        p = d / f"{k:04d}.wav"
        sf.write(str(p), np.concatenate(pieces), SR, subtype="PCM_16")
        utts.append(Utt(str(p), sents[i], words))
    return utts


# ----------------------------------------------------------------------------- paths
def load_model(path):
    import torch
    from nemo.collections.asr.models import ASRModel

    torch.set_num_threads(2)
    for name in ("nemo_logger", "nemo"):
        logging.getLogger(name).setLevel(logging.ERROR)
    model = ASRModel.restore_from(str(path), map_location="cpu")
    model.eval()
    return model


def _to_hyp(h) -> Hyp:
    words = []
    ts = getattr(h, "timestamp", None) or {}
    for w in ts.get("word", []) if isinstance(ts, dict) else []:
        start = w.get("start")
        end = w.get("end")
        if start is None:  # offsets are in encoder frames of 80 ms
            start, end = w["start_offset"] * 0.08, w["end_offset"] * 0.08
        words.append((w["word"], float(start), float(end)))
    return Hyp(h.text if hasattr(h, "text") else str(h), words)


def shift_hyps(hyps: list[Hyp], shift: tuple[float, float]) -> list[Hyp]:
    """Apply a (start, end) timestamp shift the way Budgie does (workers.engines.wordtimes.shift_word_times)."""
    from workers.engines.wordtimes import shift_word_times

    out = []
    for h in hyps:
        ws = shift_word_times([{"text": w, "start": a, "end": b} for w, a, b in h.words], shift, float("inf"))
        out.append(Hyp(h.text, [(w["text"], w["start"], w["end"]) for w in ws]))
    return out


def calibrate(model, n: int) -> tuple[float, float]:
    """Median signed start/end error of the raw RNNT word times on word-by-word clips of the ``val``
    held-out sentences (disjoint from the scored ``timing`` clips): the registry's ``timestamp_shift_s``."""
    sents = _heldout("val")
    idx = list(range(min(n, len(sents))))
    utts = _cached(f"calibration-{len(idx)}", lambda: _timing_set(sents, idx, name="calibration"))
    hyps = transcribe_offline(model, [u.path for u in utts])
    starts, ends = _signed_errors(utts, hyps)
    if not starts:
        raise SystemExit("calibration: no correctly recognised words")
    return -float(np.median(starts)), -float(np.median(ends))


def transcribe_offline(model, paths, att_context_size=None) -> list[Hyp]:
    """NeMo ``transcribe()`` with the model's default decoder (RNNT) at one lookahead (raw NeMo word times)."""
    default = list(model.encoder.att_context_size)
    if att_context_size is not None:
        model.encoder.set_default_att_context_size(att_context_size)
    try:
        out = model.transcribe(list(paths), batch_size=16, timestamps=True, return_hypotheses=True, verbose=False)
    finally:
        model.encoder.set_default_att_context_size(default)
    if isinstance(out, tuple):
        out = out[0]
    return [_to_hyp(h) for h in out]


def transcribe_batch_api(paths) -> list[Hyp]:
    """Budgie's batch stack: HTTP API -> Redis -> Celery worker (registry model parakeet-tiny-en)."""
    from bench import eval_paths

    return [Hyp(text, words) for text, words in eval_paths.batch_api(list(paths))]


def transcribe_streaming(paths, lookahead) -> list[Hyp]:
    """Budgie's streaming worker at ``lookahead`` right-context frames (70 left), finals concatenated."""
    from bench import eval_paths

    return [Hyp(text, words) for text, words in eval_paths.streaming(list(paths), [70, lookahead])]


# ----------------------------------------------------------------------------- metrics
def wer(utts, hyps) -> float:
    import jiwer

    return jiwer.wer([u.text for u in utts], [h.text.strip() or "<empty>" for h in hyps])


def _signed_errors(utts, hyps) -> tuple[list[float], list[float]]:
    """Signed start and end errors (s, positive = late) of the reference words the hypothesis got right."""
    import jiwer

    starts, ends = [], []
    for u, h in zip(utts, hyps, strict=False):
        if not h.words or not h.text.strip():
            continue
        hw = [w for w, _, _ in h.words]
        out = jiwer.process_words(u.text, " ".join(hw))
        for c in out.alignments[0]:
            if c.type != "equal":
                continue
            for k in range(c.ref_end_idx - c.ref_start_idx):
                _, rs, re_ = u.words[c.ref_start_idx + k]
                _, hs, he = h.words[c.hyp_start_idx + k]
                starts.append(hs - rs)
                ends.append(he - re_)
    return starts, ends


def timing_mae(utts, hyps):
    """Mean |start| and |end| error (ms) over reference words the hypothesis got right, and the start bias."""
    starts, ends = _signed_errors(utts, hyps)
    if not starts:
        return float("nan"), float("nan"), 0, float("nan")
    s, e = np.array(starts), np.array(ends)
    return 1000 * float(np.abs(s).mean()), 1000 * float(np.abs(e).mean()), len(s), 1000 * float(s.mean())


def _registry_shift(model_path: str) -> tuple[float, float]:
    """The registry's timestamp shift for the shipped model file; none for any other model."""
    from core.catalog import registry

    for entry in registry().all():
        if entry.path and Path(entry.path).resolve() == Path(model_path).resolve():
            return entry.timestamp_shift_s
    return 0.0, 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--n-trained", type=int, default=150)
    ap.add_argument("--n-unseen", type=int, default=100)
    ap.add_argument("--n-timing", type=int, default=50)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--offline-only", action="store_true", help="skip the batch API and streaming rows")
    ap.add_argument(
        "--shift",
        type=float,
        nargs=2,
        metavar=("START", "END"),
        default=None,
        help="timestamp shift (s) for the offline rows; default: the registry's for the shipped model",
    )
    ap.add_argument(
        "--calibrate",
        type=int,
        nargs="?",
        const=60,
        default=None,
        metavar="N",
        help="measure the timestamp shift on N word-by-word 'val' clips, print it and exit",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if a.calibrate:
        start, end = calibrate(load_model(a.model), a.calibrate)
        print(f"timestamp_shift_s: {{start: {start:.2f}, end: {end:.2f}}}   # registry/models.yaml, {a.model}")
        print(f"RESULT start_shift_ms={1000 * start:.0f} end_shift_ms={1000 * end:.0f}")
        return
    shift = tuple(a.shift) if a.shift else _registry_shift(a.model)

    t0 = time.time()
    trained, unseen, timing = build_sets(a.n_trained, a.n_unseen, a.n_timing)
    print(
        f"held-out set: {len(trained)} trained-voice clips, {len(unseen)} unseen-voice ({HELDOUT_VOICE}) clips, "
        f"{len(timing)} word-by-word timing clips ({time.time() - t0:.0f} s)",
        file=sys.stderr,
    )
    model = load_model(a.model)
    contexts = [list(c) for c in getattr(model.encoder, "att_context_size_all", [model.encoder.att_context_size])]
    default_ctx = list(model.encoder.att_context_size)

    paths = [
        (
            f"offline lookahead {c[1]} ({'default' if c == default_ctx else 'alt'})",
            lambda p, c=c: shift_hyps(transcribe_offline(model, p, c), shift),
        )
        for c in contexts
    ]
    if not a.offline_only:
        paths += [("batch API", transcribe_batch_api)]
        paths += [(f"streaming lookahead {c[1]}", lambda p, c=c: transcribe_streaming(p, c[1])) for c in contexts]

    rows, notes, result = [], [], None
    for name, fn in paths:
        try:
            t = time.time()
            h_tr = fn([u.path for u in trained])
            h_un = fn([u.path for u in unseen])
            h_ti = fn([u.path for u in timing])
        except NotImplementedError as e:
            rows.append((name, None))
            notes.append(f"{name}: skipped ({e})")
            continue
        r = {"wer": wer(trained, h_tr), "unseen": wer(unseen, h_un), "timing_wer": wer(timing, h_ti)}
        r["start_mae"], r["end_mae"], r["n_words"], r["start_bias"] = timing_mae(timing, h_ti)
        r["secs"] = time.time() - t
        rows.append((name, r))
        if result is None:
            result = r
            for u, h in (
                list(zip(trained, h_tr, strict=False))[: a.examples]
                + list(zip(unseen, h_un, strict=False))[: a.examples]
            ):
                print(f"  REF: {u.text}\n  HYP: {h.text}", file=sys.stderr)

    print(f"\nmodel: {a.model}")
    print(
        f"{'path':34s} {'WER trained':>11s} {'WER unseen':>10s} {'WER timing':>10s} {'start MAE ms':>12s} "
        f"{'end MAE ms':>10s} {'start bias':>10s} {'words':>5s} {'secs':>5s}"
    )
    for name, r in rows:
        if r is None:
            print(f"{name:34s} {'skipped (not implemented, see note)':>60s}")
        else:
            print(
                f"{name:34s} {r['wer']:11.3f} {r['unseen']:10.3f} {r['timing_wer']:10.3f} {r['start_mae']:12.0f} "
                f"{r['end_mae']:10.0f} {r['start_bias']:+10.0f} {r['n_words']:5d} {r['secs']:5.0f}"
            )
    for n in notes:
        print(f"note: {n}")
    print(
        f"word times: offline rows shifted by start {shift[0]:+.2f} s, end {shift[1]:+.2f} s (the registry's "
        "timestamp_shift_s); batch API and streaming rows apply it themselves"
    )
    print(
        "WER timing = WER on the word-by-word timing clips; MAE over correctly recognised words ('words');"
        " start bias = mean signed start error (positive = late)"
    )
    print(f"total {time.time() - t0:.0f} s")
    served = dict(rows)
    largest = max(c[1] for c in contexts)
    extra = "".join(
        f" {key}={served[name]['wer']:.3f}"
        for key, name in (("batch_wer", "batch API"), ("stream_wer", f"streaming lookahead {largest}"))
        if served.get(name)
    )
    print(
        f"RESULT wer={result['wer']:.3f} unseen_voice_wer={result['unseen']:.3f} "
        f"word_start_mae_ms={result['start_mae']:.0f} word_end_mae_ms={result['end_mae']:.0f}{extra}"
    )


if __name__ == "__main__":
    main()
