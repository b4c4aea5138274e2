"""Speed of each Parakeet architecture at full size, random weights, on this machine's CPU.

Weights do not change the compute, so each model is built from its config shape (the released
checkpoints' encoder widths and depths) with random weights, its transducer joint calibrated to emit
about as often as a trained model (~0.3 tokens per 80 ms frame; an untrained joint emits on every
frame and would make decoding ~10x dearer than real). Measured through Budgie's own code:

- batch: ``workers.engines.parakeet.transcribe_audio`` (the batch engine, heads chosen like the
  registry does) on ``--seconds`` of speech; RTFx = audio seconds / compute seconds.
- streaming (cache-aware shapes): ``CacheAwareStepper`` of one session; p50/p95 compute per chunk at
  each trained context; RTF = compute / audio.

    python bench/family_speed.py                         # every architecture (slow on 2 CPUs: ~15 min)
    python bench/family_speed.py --archs tdt-0.6b,ctc-0.6b --seconds 10 --threads 2

Ends with one line: ``RESULT rtfx_<arch>=.. stream_p95_ms_<arch>_<chunk>=.. ...``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (rnnt_config options, size, what it stands for). Sizes: "0.6b" = d_model 1024 x 24 layers
# (the parakeet-*-0.6b / nemotron encoders), "1.1b" = 1024 x 42, "large" = 512 x 17 (the ~115M
# FastConformer Large of the hybrid streaming model and the 120M realtime EOU model).
ARCHS: dict[str, tuple[dict, str, str]] = {
    "rnnt-0.6b": ({"att_context_size": [-1, -1]}, "0.6b", "parakeet-rnnt-0.6b"),
    "tdt-0.6b": ({"decoder": "tdt", "att_context_size": [-1, -1]}, "0.6b", "parakeet-tdt-0.6b-v2/v3"),
    "ctc-0.6b": ({"decoder": "ctc", "att_context_size": [-1, -1]}, "0.6b", "parakeet-ctc-0.6b"),
    "tdt-1.1b": ({"decoder": "tdt", "att_context_size": [-1, -1]}, "1.1b", "parakeet-tdt-1.1b"),
    "ctc-1.1b": ({"decoder": "ctc", "att_context_size": [-1, -1]}, "1.1b", "parakeet-ctc-1.1b"),
    "nemotron-0.6b": (
        {"att_context_size": [[70, 1], [70, 0], [70, 6], [70, 13]]},
        "0.6b",
        "nemotron-speech-streaming-en-0.6b",
    ),
    "hybrid-large": (
        {"hybrid_ctc": True, "att_context_size": [[70, 13], [70, 6], [70, 1], [70, 0]]},
        "large",
        "fastconformer-hybrid-large-streaming-multi / parakeet-realtime-eou-120m",
    ),
}
TEXT = "speech recognition turns spoken words into written text while the quick brown fox jumps over the lazy dog"


def speech(seconds: float, out: Path):
    import numpy as np
    import soundfile as sf

    from tests.speech import synthesize

    clip, _ = sf.read(synthesize(TEXT, out), dtype="float32")
    reps = int(np.ceil(seconds * 16000 / len(clip)))
    return np.tile(clip, reps)[: int(seconds * 16000)]


def build(arch: str, tmp: Path, size_override: str = ""):
    import torch

    from train.architectures import _DEFAULT_TEXT, build_model, calibrate_emission, rnnt_config, train_tokenizer

    options, size, _ = ARCHS[arch]
    size = size_override or size
    torch.manual_seed(0)
    tok = train_tokenizer(_DEFAULT_TEXT, tmp / f"tok-{arch}", 128)
    model = build_model(rnnt_config(tok, size, dropout=0.0, **options)).eval()
    if hasattr(model, "joint"):
        calibrate_emission(model, 0.3)
    return model


def batch_rtfx(model, audio) -> float:
    from workers.engines.heads import configure_batch_decoding
    from workers.engines.parakeet import transcribe_audio

    configure_batch_decoding(model)
    transcribe_audio(model, audio[: 16000 * 2], max_chunk_s=600)  # warm-up
    start = time.perf_counter()
    transcribe_audio(model, audio, max_chunk_s=600)
    return len(audio) / 16000 / (time.perf_counter() - start)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stream_chunks(model, audio, contexts: list[list[int]]) -> dict[int, tuple[float, float]]:
    """p50/p95 ms of compute per chunk for one session at each trained context."""
    from workers.streaming.engine import streaming_decoding
    from workers.streaming.stepper import CacheAwareStepper

    streaming_decoding(model)
    out = {}
    for ctx in contexts:
        stepper = CacheAwareStepper(model, ctx)
        state = stepper.new_state()
        times = []
        for i in range(0, len(audio), 1280):
            stepper.add_audio(state, audio[i : i + 1280])
            while stepper.ready(state):
                start = time.perf_counter()
                stepper.step([state])
                times.append(time.perf_counter() - start)
        times = sorted(times[1:])  # the first chunk warms up
        if times:
            out[stepper.chunk_ms] = (1000 * percentile(times, 0.5), 1000 * percentile(times, 0.95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default=",".join(ARCHS), help=f"comma-separated from {', '.join(ARCHS)}")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per batch measurement")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--size", default="", help="build every architecture at this size instead (smoke test: test)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from nemo.core.classes.common import typecheck

    typecheck.set_typecheck_enabled(False)
    figures: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        audio = speech(args.seconds, tmp / "speech.wav")
        for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
            options, _, stands_for = ARCHS[arch]
            model = build(arch, tmp, args.size)
            params = sum(p.numel() for p in model.parameters()) / 1e6
            with torch.inference_mode():
                rtfx = batch_rtfx(model, audio)
            line = f"{arch:14s} ({stands_for}, {params:.0f}M params): batch RTFx {rtfx:.1f}"
            figures.append(f"rtfx_{arch.replace('-', '_').replace('.', '_')}={rtfx:.2f}")
            contexts = options["att_context_size"]
            if contexts != [-1, -1]:
                for chunk_ms, (p50, p95) in sorted(stream_chunks(model, audio[: 16000 * 8], contexts).items()):
                    line += f"; stream {chunk_ms} ms chunk p50 {p50:.0f} ms p95 {p95:.0f} ms (RTF {p50 / chunk_ms:.2f})"
                    figures.append(f"stream_p95_ms_{arch.replace('-', '_').replace('.', '_')}_{chunk_ms}={p95:.0f}")
            print(line, flush=True)
            del model
            gc.collect()
    print(f"RESULT {' '.join(figures)} cpus={os.cpu_count()} audio_s={args.seconds:.0f}")


if __name__ == "__main__":
    main()
