#!/usr/bin/env bash
# GPU day check (under ten minutes on one NVIDIA GPU): the 0.6B Parakeet architectures at full size.
#   batch RTFx of the batch engine (workers/engines/parakeet.transcribe_audio) for TDT, RNNT and CTC 0.6B
#   in fp32 and bf16 (autocast) at batch sizes 1, 8 and 32; streaming p95 compute per chunk of the
#   cache-aware 0.6B (Nemotron shape, CacheAwareStepper, 160 ms chunks, fp32) with 1, 16 and 64 sessions
#   stepped together the way the scheduler batches them.
# Random weights (the compute does not depend on them; joints calibrated to ~0.3 tokens per frame).
#   bash bench/gpu_check.sh                # needs nvidia-smi and a CUDA torch
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_SIZE=test bash bench/gpu_check.sh   # smoke test of the script itself
# Prints one line: RESULT gpu=.. rtfx_tdt_fp32_b32=.. rtfx_tdt_bf16_b32=.. ... stream_p95_ms_s64=..
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${GPU_CHECK_DEVICE:-cuda}
if [ "$DEVICE" = cuda ]; then
  command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi on this host (set GPU_CHECK_DEVICE=cpu to smoke-test)"; exit 1; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
exec timeout "${GPU_CHECK_TIMEOUT_S:-570}" python3 - "$DEVICE" "${GPU_CHECK_SIZE:-}" "${GPU_CHECK_SECONDS:-60}" <<'PY'
import logging, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, ".")
logging.disable(logging.WARNING)
import numpy as np
import torch

from bench.family_speed import build, percentile, speech
from nemo.core.classes.common import typecheck

device, size, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if device == "cuda" and not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (install a CUDA build of torch)")
typecheck.set_typecheck_enabled(False)
gpu = torch.cuda.get_device_name(0).replace(" ", "_") if device == "cuda" else "cpu"
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
figures = [f"gpu={gpu}"]
tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
clip = speech(seconds, tmp / "speech.wav")


def batch_rtfx(model, batch: int, dtype) -> float:
    """Audio seconds per compute second for `batch` clips of `seconds` decoded in one call."""
    from workers.engines.heads import configure_batch_decoding
    from workers.engines.parakeet import transcribe_audio

    configure_batch_decoding(model)
    pieces = [clip] * batch
    audio = np.concatenate(pieces)
    ctx = torch.autocast(device, dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast(device, enabled=False)
    with torch.inference_mode(), ctx:
        transcribe_audio(model, clip[:32000], max_chunk_s=seconds + 1, batch_size=1)  # warm-up
        sync()
        start = time.perf_counter()
        # one chunk per clip (max_chunk_s = clip length), `batch` chunks per forward pass
        model.transcribe(pieces, batch_size=batch, return_hypotheses=True, verbose=False)
        sync()
    return len(audio) / 16000 / (time.perf_counter() - start)


for arch, tag in (("tdt-0.6b", "tdt"), ("rnnt-0.6b", "rnnt"), ("ctc-0.6b", "ctc")):
    model = build(arch, tmp, size).to(device).eval()
    for dtype in ("fp32", "bf16") if device == "cuda" else ("fp32",):  # CPU oneDNN has no bf16 LSTM
        for batch in (1, 8, 32):
            rtfx = batch_rtfx(model, batch, dtype)
            figures.append(f"rtfx_{tag}_{dtype}_b{batch}={rtfx:.0f}")
            print(f"{arch} {dtype} batch {batch}: RTFx {rtfx:.0f}", flush=True)
    del model
    torch.cuda.empty_cache() if device == "cuda" else None

from workers.streaming.engine import streaming_decoding
from workers.streaming.stepper import CacheAwareStepper

model = build("nemotron-0.6b", tmp, size).to(device).eval()
streaming_decoding(model)
stepper = CacheAwareStepper(model, [70, 1])
piece = clip[: 16000 * 10]
for sessions in (1, 16, 64):
    states = [stepper.new_state() for _ in range(sessions)]
    times = []
    for i in range(0, len(piece), 1280):
        for s in states:
            stepper.add_audio(s, piece[i : i + 1280])
        for first in (True, False):
            group = [s for s in states if stepper.ready(s) and (s.step == 0) == first]
            if group:
                sync()
                start = time.perf_counter()
                stepper.step(group)
                sync()
                times.append(time.perf_counter() - start)
    p95 = 1000 * percentile(sorted(times[2:]), 0.95)
    figures.append(f"stream_p95_ms_s{sessions}={p95:.1f}")
    print(f"nemotron-0.6b streaming, {sessions} sessions, {stepper.chunk_ms} ms chunks: p95 step {p95:.1f} ms", flush=True)
print("RESULT " + " ".join(figures))
PY
