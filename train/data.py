"""Seeded synthetic-speech data generator for the embedded ``parakeet-tiny-en`` model.

Text: Debian ``fortunes`` + ``fortunes-min`` (``apt-get install -y fortunes fortunes-min``), split at punctuation
into 2-9-word lower-case snippets. The vocabulary is BOUNDED: only snippets whose words are all among the
``VOCAB_SIZE`` most frequent words of that text are kept (the model is trained for those words only).

Audio: ``espeak-ng`` with many accent x variant voices, random rate / pitch / word gap, converted by ``sox`` to
16 kHz 16-bit mono. Light noise and gain are added on-line by the training loader (``train/train.py``).

Held out, never trained on:
  * ``train/heldout_sentences.txt`` - a fixed, seeded list of snippets (test + validation) excluded from training;
  * the voice ``HELDOUT_VOICE`` (an accent and a variant neither of which appears in ``TRAIN_BASES``/
    ``TRAIN_VARIANTS``).

Usage (writes NeMo-style JSON-lines manifests under ``train/data/``)::

    python train/data.py --stage words   --n 9000
    python train/data.py --stage phrases --n 36000
    python train/data.py --stage val                 # 160 validation clips in trained voices
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
from multiprocessing import Pool
from pathlib import Path

TRAIN_DIR = Path(__file__).resolve().parent
DATA_DIR = TRAIN_DIR / "data"
HELDOUT_FILE = TRAIN_DIR / "heldout_sentences.txt"
FORTUNE_DIRS = ["/usr/share/games/fortunes"]
SEED = 1234
VOCAB_SIZE = 2000  # bounded vocabulary: the 2,000 most frequent words of the fortunes text
MIN_WORDS, MAX_WORDS = 2, 9
N_HELDOUT_TEST = 300  # held-out sentences for bench/model_wer.py
N_HELDOUT_VAL = 200  # held-out sentences for validation during training

# Accents (espeak-ng base voices) and variants used for training.
TRAIN_BASES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd", "en-us-nyc"]
TRAIN_VARIANTS = [
    "",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "Andy",
    "Alicia",
    "grandma",
    "grandpa",
    "Annie",
    "Michael",
    "steph",
    "Lee",
    "david",
    "Gene",
    "linda",
    "john",
    "Mike",
    "paul",
]
# Never trained on: the Lancaster accent with the m8 variant (same unseen voice as the probes in
# /work/shared/reference/training-facts.md, where an 8-voice model scored WER 0.81 on it).
HELDOUT_VOICE = "en-gb-x-gbclan+m8"
# A few fixed voices from the trained set, used for the held-out-sentence evaluation.
EVAL_TRAINED_VOICES = ["en-us+m3", "en-us+f4", "en-gb+klatt4", "en-029+Andy", "en-us+Alicia", "en-gb-scotland+grandma"]

_WORD_RE = re.compile(r"^[a-z]+(?:'[a-z]+)?$")
_SPLIT_RE = re.compile(r"[.,;:!?\"()\[\]{}<>|/\\*_=+~`@#$%^&\n\t-]+|--")


def _fortune_files() -> list[Path]:
    files = []
    for d in FORTUNE_DIRS:
        for p in sorted(Path(d).glob("*")):
            if p.is_file() and p.suffix not in (".dat", ".u8") and not p.is_symlink():
                files.append(p)
    if not files:
        raise SystemExit("no fortunes found: apt-get install -y fortunes fortunes-min")
    return files


def raw_fragments() -> list[list[str]]:
    """All punctuation-delimited word sequences of the fortunes text, lower-cased."""
    frags = []
    for p in _fortune_files():
        text = p.read_text(encoding="latin-1")
        for fortune in text.split("\n%\n"):
            # drop attribution lines ("-- Author") and lines that look like code / ascii art
            lines = [ln for ln in fortune.splitlines() if not ln.strip().startswith("--")]
            body = " ".join(lines).lower().replace("`", "'").replace("\u2019", "'")
            for frag in _SPLIT_RE.split(body):
                words = frag.split()
                if not words:
                    continue
                if all(_WORD_RE.match(w) for w in words):
                    frags.append(words)
    return frags


def heldout_sentences(kind: str) -> list[str]:
    """The committed held-out sentences of ``kind`` (``test`` scores models, ``val`` validates training)."""
    rows = (ln.split("\t") for ln in HELDOUT_FILE.read_text().splitlines() if ln.strip())
    return [text for k, text in rows if k == kind]


def build_text(seed: int = SEED):
    """Return (vocab list, train snippets, heldout test snippets, heldout val snippets); deterministic."""
    frags = raw_fragments()
    counts = collections.Counter(w for f in frags for w in f)
    vocab = [w for w, _ in counts.most_common(VOCAB_SIZE)]
    vset = set(vocab)
    snippets = set()
    for words in frags:
        # long fragments are cut into windows of <= MAX_WORDS words
        for i in range(0, len(words), MAX_WORDS):
            chunk = words[i : i + MAX_WORDS]
            if MIN_WORDS <= len(chunk) <= MAX_WORDS and all(w in vset for w in chunk):
                snippets.add(" ".join(chunk))
    snippets = sorted(snippets)
    rng = random.Random(seed)
    rng.shuffle(snippets)
    if HELDOUT_FILE.exists():
        test, val = heldout_sentences("test"), heldout_sentences("val")
    else:
        # held-out sentences: 4-9 words so that they are real sentences, not fragments
        cands = [s for s in snippets if len(s.split()) >= 4]
        test, val = cands[:N_HELDOUT_TEST], cands[N_HELDOUT_TEST : N_HELDOUT_TEST + N_HELDOUT_VAL]
        HELDOUT_FILE.write_text("".join(f"test\t{t}\n" for t in test) + "".join(f"val\t{t}\n" for t in val))
    held_set = set(test) | set(val)
    train = [s for s in snippets if s not in held_set]
    return vocab, train, test, val


def train_voice(rng: random.Random) -> str:
    base = rng.choice(TRAIN_BASES)
    var = rng.choice(TRAIN_VARIANTS)
    return f"{base}+{var}" if var else base


def synth(text: str, out: Path, voice: str, rate: int, pitch: int, gap: int = 0) -> float:
    """espeak-ng -> sox -> 16 kHz 16-bit mono wav. Returns duration in seconds."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout"]
    if gap:
        cmd += ["-g", str(gap)]
    es = subprocess.Popen([*cmd, text], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    subprocess.run(
        ["sox", "-t", "wav", "-", "-r", "16000", "-b", "16", "-c", "1", str(out)],
        stdin=es.stdout,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    es.wait()
    return os.path.getsize(out) / 32000.0  # approximately; header is 44 bytes


def _job(args):
    _idx, text, voice, rate, pitch, gap, out = args
    out = Path(out)
    if not out.exists():
        synth(text, out, voice, rate, pitch, gap)
    import soundfile as sf

    info = sf.info(str(out))
    return {
        "audio_filepath": str(out),
        "duration": round(info.frames / info.samplerate, 3),
        "text": text,
        "voice": voice,
        "rate": rate,
        "pitch": pitch,
    }


def make_jobs(stage: str, n: int, seed: int = SEED):
    vocab, train, _test, val = build_text()
    rng = random.Random(f"{seed}-{stage}")
    out_dir = DATA_DIR / stage
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    if stage == "words":
        # single-word curriculum: 2/3 one word, 1/3 two words, from the bounded vocabulary (uniformly, so
        # rare words are heard as often as common ones), slower speech.
        for i in range(n):
            k = 1 if rng.random() < 2 / 3 else 2
            text = " ".join(rng.choice(vocab) for _ in range(k))
            jobs.append(
                (
                    i,
                    text,
                    train_voice(rng),
                    rng.randint(120, 175),
                    rng.randint(25, 75),
                    0,
                    str(out_dir / f"{i:06d}.wav"),
                )
            )
    elif stage == "phrases":
        for i in range(n):
            text = rng.choice(train)
            gap = rng.choice([0, 0, 0, 2, 5, 8]) if rng.random() < 0.3 else 0
            jobs.append(
                (
                    i,
                    text,
                    train_voice(rng),
                    rng.randint(125, 195),
                    rng.randint(25, 75),
                    gap,
                    str(out_dir / f"{i:06d}.wav"),
                )
            )
    elif stage == "val":
        for i, text in enumerate(val[:n]):
            voice = EVAL_TRAINED_VOICES[i % len(EVAL_TRAINED_VOICES)]
            jobs.append((i, text, voice, 160, 50, 0, str(out_dir / f"{i:06d}.wav")))
    else:
        raise ValueError(stage)
    return jobs


def generate(stage: str, n: int, procs: int = 2) -> Path:
    jobs = make_jobs(stage, n)
    manifest = DATA_DIR / f"{stage}.json"
    with Pool(procs) as pool:
        rows = pool.map(_job, jobs, chunksize=64)
    with open(manifest, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    hours = sum(r["duration"] for r in rows) / 3600
    print(f"{stage}: {len(rows)} clips, {hours:.2f} h -> {manifest}", file=sys.stderr)
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", required=True, choices=["words", "phrases", "val", "text"])
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    if a.stage == "text":
        vocab, train, test, val = build_text()
        print(f"vocab {len(vocab)} train snippets {len(train)} heldout test {len(test)} val {len(val)}")
        for s in train[:10]:
            print("  ", s)
        return
    default_n = {"words": 9000, "phrases": 36000, "val": 160}[a.stage]
    generate(a.stage, a.n or default_n, a.procs)


if __name__ == "__main__":
    main()
