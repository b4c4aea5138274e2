"""Batch throughput: raw NeMo ``transcribe()`` RTFx vs Budgie end-to-end RTFx on the same audio.

End to end = HTTP POST -> probe -> Redis broker -> Celery prepare -> transcribe -> merge -> the
poll that sees ``completed``. Both sides use the same model object type, the same audio and the
same preloaded weights (the worker loads once; model load time is excluded from both). Raw and
end-to-end runs alternate, so changes in machine load affect both sides alike.

    python bench/batch_rtfx.py                       # embedded tiny model + a 0.6B-size model, 90 s audio
    python bench/batch_rtfx.py --sizes tiny --seconds 120

Prints one ``RESULT`` line; ``ratio`` (e2e / raw NeMo on the whole file) and ``overhead_ratio``
(e2e / raw NeMo on the same chunks Budgie decodes) are the worst over the models.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("BUDGIE_BENCH_CACHE", Path.home() / ".cache" / "budgie-bench"))
SENTENCES = [
    "the people of the town went to the market every morning",
    "she said that the weather would be fine for the rest of the week",
    "there is nothing more important than a good night of sleep",
    "he opened the door and looked out at the quiet street",
    "we will meet again when the work is done",
    "the old man told a long story about his life at sea",
]


def make_audio(seconds: float, out: Path) -> Path:
    from tests.speech import concatenate, silence, synthesize

    parts, total, i = [], 0.0, 0
    gap = silence(out.parent / "gap.wav", 0.6)
    import soundfile as sf

    while total < seconds:
        clip = synthesize(
            SENTENCES[i % len(SENTENCES)],
            out.parent / f"s{i}.wav",
            voice=["en-us", "en-gb", "en-us+f3"][i % 3],
            rate=150 + 10 * (i % 3),
        )
        total += sf.info(str(clip)).duration + 0.6
        parts += [clip, gap]
        i += 1
    return concatenate(parts, out)


def model_file(size: str) -> tuple[str, Path]:
    """Return (registry id, .nemo path) for a size: ``tiny`` is the embedded model if present."""
    from train.architectures import build_and_save

    if size == "tiny":
        embedded = ROOT / "registry" / "weights" / "parakeet-tiny-en.nemo"
        if embedded.exists():
            return "parakeet-tiny-en", embedded
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"bench-{size}-calibrated.nemo"
    if not path.exists():
        print(f"building a random-weights {size} model (once, cached in {CACHE}) ...", file=sys.stderr)
        build_and_save(
            path,
            "test" if size == "tiny" else size,
            vocab_size=1024 if size == "0.6b" else 64,
            att_context_size=[-1, -1] if size == "0.6b" else None,
            tokens_per_frame=0.3,
        )
    return f"bench-{size}", path


def measure(model_id: str, path: Path, audio: Path, duration: float, runs: int, redis_url: str):
    """Return RTFx of (raw NeMo on the whole file, raw NeMo on Budgie's chunks, Budgie end to end).

    The runs interleave, so changes in machine load hit all three alike. The middle figure isolates
    Budgie's own overhead (HTTP, probe, Redis, Celery, decoding, merge) from the effect of chunking.
    """
    import torch
    from nemo.collections.asr.models import ASRModel

    from budgie.localstack import LocalStack
    from core.audio import read_wav
    from core.catalog import registry
    from workers.engines.chunking import split_long_audio
    from workers.engines.parakeet import configure_decoding

    with LocalStack([model_id], redis_url) as stack:
        model = ASRModel.restore_from(str(path), map_location="cpu").eval()
        chunked = ASRModel.restore_from(str(path), map_location="cpu").eval()
        configure_decoding(chunked)
        max_chunk_s = registry().resolve(model_id).max_chunk_s or 60.0
        raw_times, chunk_times, e2e_times = [], [], []
        for run in range(runs + 1):  # run 0 warms everything up and is not counted
            with torch.inference_mode():
                t0 = time.perf_counter()
                model.transcribe([str(audio)], timestamps=True, verbose=False)
                raw = time.perf_counter() - t0
                t0 = time.perf_counter()
                samples = read_wav(audio)
                pieces = [samples[s:e] for s, e in split_long_audio(samples, max_chunk_s)]
                chunked.transcribe(pieces, batch_size=4, return_hypotheses=True, verbose=False)
                same_chunks = time.perf_counter() - t0
            job = stack.transcribe(audio, model=model_id, poll_s=0.05)  # faster polling steals CPU from the worker
            assert job["status"] == "completed", job.get("error")
            if run:
                raw_times.append(raw)
                chunk_times.append(same_chunks)
                e2e_times.append(job["wall_seconds"])
        del model, chunked
    return tuple(duration / statistics.median(t) for t in (raw_times, chunk_times, e2e_times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,0.6b")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()

    import soundfile as sf

    work = Path(tempfile.mkdtemp(prefix="budgie-bench-"))
    audio = make_audio(args.seconds, work / "bench.wav")
    duration = sf.info(str(audio)).duration
    registry = work / "bench-models.yaml"
    entries, results = [], {}
    sizes = args.sizes.split(",")
    paths = {size: model_file(size) for size in sizes}
    for model_id, path in paths.values():
        if model_id.startswith("bench-"):
            entries.append(
                f"  - {{id: {model_id}, engine: parakeet, source: {{path: {path}}}, languages: [en], "
                f"streaming: none, word_timestamps: true, supports_cpu: true}}"
            )
    registry.write_text("models:\n" + "\n".join(entries) + "\n")
    os.environ["BUDGIE_REGISTRY_FILES"] = str(registry)
    os.environ["BUDGIE_DEVICE"] = "cpu"

    print(f"audio: {duration:.1f}s, runs: {args.runs} (median)")
    print(
        f"{'model':<20}{'raw NeMo':>10}{'NeMo, Budgie chunks':>21}{'Budgie e2e':>12}{'ratio':>8}{'overhead ratio':>16}"
    )
    for size in sizes:
        model_id, path = paths[size]
        raw, same_chunks, e2e = measure(model_id, path, audio, duration, args.runs, args.redis_url)
        results[size] = (raw, same_chunks, e2e)
        print(f"{model_id:<20}{raw:>10.1f}{same_chunks:>21.1f}{e2e:>12.1f}{e2e / raw:>8.3f}{e2e / same_chunks:>16.3f}")
    print(
        "(RTFx = audio seconds / wall seconds; ratio = e2e / raw NeMo on the whole file; overhead ratio = "
        "e2e / raw NeMo on the same chunks)"
    )
    worst = min(e2e / raw for raw, _, e2e in results.values())
    worst_overhead = min(e2e / same for _, same, e2e in results.values())
    figures = " ".join(
        f"ratio_{k}={e2e / raw:.3f} overhead_ratio_{k}={e2e / same:.3f} raw_rtfx_{k}={raw:.1f} e2e_rtfx_{k}={e2e:.1f}"
        for k, (raw, same, e2e) in ((s.replace(".", "_"), r) for s, r in results.items())
    )
    print(f"RESULT ratio={worst:.3f} overhead_ratio={worst_overhead:.3f} {figures} audio_s={duration:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
