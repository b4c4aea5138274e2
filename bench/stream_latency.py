"""Streaming latency benchmark: N concurrent real-time sessions against a real streaming worker.

For each model size a worker subprocess builds a random-weight cache-aware FastConformer-RNNT of
that size (``architectures.rnnt_config``; weights do not change the compute), serves it under
gunicorn exactly like ``budgie-stream-worker``, and N client threads stream synthesized speech at
real time in 40 ms frames. Latency is measured by the worker per model chunk: from receiving the
frame that completed the chunk to sending that chunk's message (GET /stats). RTF = inference time
/ audio time.

    python bench/stream_latency.py        # tiny: 1,2,4,8,16 sessions; 0.6b: fp32 and int8, [70,1] and [70,13]
    python bench/stream_latency.py --sessions 1,4 --seconds 6 --big "int8:70,13"

Ends with one line: ``RESULT p95_ms=.. sessions=.. rtf=.. p95_ms_tiny_1=.. max_sessions_p95_le_100ms=..
p95_ms_0_6b=.. rtf_0_6b=.. p95_ms_0_6b_int8_70_1=.. ...`` (p95_ms/rtf: tiny at ``sessions``;
p95_ms_0_6b: fp32, one session, [70,1]).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgie.localstack import free_port  # noqa: E402

logger = logging.getLogger("stream_latency")
PATH = "/v1/audio/transcriptions/stream"
TEXT = (
    "speech recognition turns spoken words into written text and budgie serves parakeet models "
    "for batch and streaming transcription while the quick brown fox jumps over the lazy dog"
)


# -- worker side (subprocess) --------------------------------------------------------------------
def serve(size: str, port: int, max_sessions: int, att_context: list[int], quantize: str = "") -> None:
    """Build a random-weight model of ``size`` and serve it like the production worker."""
    import torch

    from core.settings import Settings
    from registry.catalog import _cached
    from train.architectures import _DEFAULT_TEXT, build_model, rnnt_config, train_tokenizer
    from workers.streaming.engine import build_stepper
    from workers.streaming.server import StreamWorker, create_app
    from workers.streaming.server import serve as serve_app

    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    model_id = f"bench-{size}"
    reg = tmp / "registry.yaml"
    reg.write_text(
        f"models:\n  - id: {model_id}\n    engine: parakeet\n    source: {{path: {tmp}/unused.nemo}}\n"
        f"    languages: [en]\n    streaming: cache_aware\n    supports_cpu: true\n"
    )
    os.environ["BUDGIE_REGISTRY_FILES"] = str(reg)
    _cached.cache_clear()
    vocab = 1024 if size == "0.6b" else 256
    config = Settings(  # the environment's settings, then the bench's own
        worker_id=f"bench-{size}-{port}",
        worker_host="127.0.0.1",
        worker_port=port,
        max_sessions=max_sessions,
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        key_prefix="budgie-bench",
        stream_model=(model_id,),
        device="cpu",
        stream_att_context=tuple(att_context),
        stream_idle_s=120,
        torch_threads=int(os.environ.get("BUDGIE_TORCH_THREADS") or 0),
        stream_quantize=quantize,
    )

    def factory():
        """Build inside gunicorn's worker process: torch must not be used before the fork."""
        from core.catalog import registry

        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        tok = train_tokenizer(_DEFAULT_TEXT * 20 + [TEXT] * 5, tmp / "tok", vocab)
        model = build_model(rnnt_config(tok, size, dropout=0.0))
        params = sum(p.numel() for p in model.parameters())
        rate = calibrate_blank(model, att_context)
        stepper = build_stepper(registry().resolve(model_id), config, model=model)
        app = create_app(config, StreamWorker(config, {model_id: stepper}))
        print(
            json.dumps({"ready": True, "params": params, "chunk_ms": stepper.chunk_ms, "tokens_per_frame": rate}),
            flush=True,
        )
        return app

    serve_app(config, factory)


def calibrate_blank(model, att_context: list[int], target: float = 0.3) -> float:
    """Calibrate the random model's emission rate (see ``calibrate_emission``) with streaming decoding."""
    from train.architectures import calibrate_emission
    from workers.streaming.engine import streaming_decoding

    streaming_decoding(model)
    model.encoder.set_default_att_context_size(att_context)
    return calibrate_emission(model, target, audio=speech(8.0).astype("float32") / 32768.0)


# -- client side ---------------------------------------------------------------------------------
def run_sessions(url: str, audio, n: int, frame: int = 640) -> list[dict]:
    """Stream ``audio`` (int16, 16 kHz) from ``n`` threads at real time; return each session.end."""
    from budgie.client import StreamClient

    ends: list[dict] = [{} for _ in range(n)]
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            c = StreamClient(url, timeout=120)
            time.sleep(0.013 * i)  # do not align every session's chunk boundary
            c.stream(audio, chunk=frame, realtime=1.0)
            c.finish(timeout=300)
            found = c.of_type("session.end")
            ends[i] = found[0] if found else {}
            if not found:
                errors.append(f"session {i}: no session.end (close {c.close_code})")
        except Exception as exc:  # report, do not hang the benchmark
            errors.append(f"session {i}: {exc}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        print("  !", e)
    return ends


def stats(http: str, reset: bool = False) -> dict:
    with urllib.request.urlopen(f"{http}/stats{'?reset=1' if reset else ''}", timeout=30) as resp:
        return next(iter(json.loads(resp.read()).values()))


def bench_size(
    size: str, sessions: list[int], audio, att_context: list[int], quantize: str = "", threads: int = 1
) -> dict[int, dict]:
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-stream-{size}-{port}.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            size,
            "--port",
            str(port),
            "--max-sessions",
            str(max(sessions)),
            "--att-context",
            ",".join(map(str, att_context)),
            "--quantize",
            quantize,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),  # noqa: SIM115 (the child owns it)
        text=True,
        env={**os.environ, "BUDGIE_TORCH_THREADS": str(threads)},
    )
    results: dict[int, dict] = {}
    try:
        info: dict = {}
        for line in proc.stdout:  # NeMo logs to stdout too; our line is the JSON one
            if line.startswith('{"ready"'):
                info = json.loads(line)
                break
        if not info.get("ready"):
            raise RuntimeError(f"{size} worker failed to start")
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep the pipe empty
        http, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}{PATH}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                stats(http)
                break
            except OSError:
                time.sleep(0.5)
        print(
            f"\n{size}{' int8' if quantize else ''}: {info['params'] / 1e6:.1f}M parameters, "
            f"{info['chunk_ms']} ms chunks, att_context={att_context}, {threads} torch thread(s), "
            f"{info['tokens_per_frame']} tokens/frame (blank-calibrated)"
        )
        run_sessions(url, audio[:16000], 1)  # warm-up
        print(
            f"{'sessions':>8} {'chunks':>7} {'p50_ms':>7} {'p95_ms':>7} {'max_ms':>7} {'rtf':>7} {'batch':>6} "
            f"{'wait95':>7} {'step50':>7} {'step95':>7}"
        )
        for n in sessions:
            stats(http, reset=True)
            run_sessions(url, audio, n)
            s = stats(http)
            if not s["chunks"]:
                print(f"  ! no chunks measured; worker log: {log_path}")
                continue
            results[n] = s
            print(
                f"{n:>8} {s['chunks']:>7} {s['p50_ms']:>7} {s['p95_ms']:>7} {s['max_ms']:>7} {s['rtf']:>7} "
                f"{s['mean_batch']:>6} {s['wait_p95_ms']:>7} {s['step_p50_ms']:>7} {s['step_p95_ms']:>7}",
                flush=True,
            )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return results


def speech(seconds: float):
    import numpy as np
    import soundfile as sf

    from tests.speech import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        audio, _ = sf.read(synthesize(TEXT, Path(tmp) / "bench.wav"), dtype="int16")
    reps = int(np.ceil(seconds * 16000 / len(audio)))
    return np.tile(audio, reps)[: int(seconds * 16000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-sessions", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--quantize", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sessions", default="1,2,4,8,16", help="tiny: concurrent sessions to try")
    parser.add_argument(
        "--big",
        default="fp32:70,1;int8:70,1;int8:70,13",
        help="0.6b runs (1 session each): precision:left,right;... ('' to skip)",
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="audio per tiny session")
    parser.add_argument("--seconds-0-6b", type=float, default=6.0, help="audio per 0.6b session")
    parser.add_argument("--att-context", default="70,1", help="tiny: cache-aware [left,right] frames")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the worker (1 wins on a busy CPU)")
    parser.add_argument("--headline-sessions", type=int, default=4)
    args = parser.parse_args()
    att = [int(v) for v in args.att_context.split(",")]
    if args.serve:
        return serve(args.serve, args.port, args.max_sessions, att, args.quantize)

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work shares this machine); "
        f"sessions stream synthesized speech at real time in 40 ms frames"
    )
    tiny = (
        bench_size("tiny", [int(v) for v in args.sessions.split(",")], speech(args.seconds), att, threads=args.threads)
        if args.sessions
        else {}
    )
    big: dict[str, dict] = {}
    for spec in filter(None, args.big.split(";")):
        precision, ctx = spec.split(":")
        run = bench_size(
            "0.6b",
            [1],
            speech(args.seconds_0_6b),
            [int(v) for v in ctx.split(",")],
            quantize="" if precision == "fp32" else precision,
            threads=args.threads,
        )
        big[f"{precision}_{ctx.replace(',', '_')}"] = run.get(1, {})

    head_n = args.headline_sessions if args.headline_sessions in tiny else (max(tiny) if tiny else 0)
    ok = [n for n, s in tiny.items() if s["p95_ms"] is not None and s["p95_ms"] <= 100]
    fields = {
        "p95_ms": tiny.get(head_n, {}).get("p95_ms"),
        "sessions": head_n,
        "rtf": tiny.get(head_n, {}).get("rtf"),
        "p95_ms_tiny_1": tiny.get(1, {}).get("p95_ms"),
        "max_sessions_p95_le_100ms": max(ok) if ok else 0,
        "p95_ms_0_6b": big.get("fp32_70_1", {}).get("p95_ms"),
        "rtf_0_6b": big.get("fp32_70_1", {}).get("rtf"),
    }
    for key, s in big.items():
        if key != "fp32_70_1":
            fields[f"p95_ms_0_6b_{key}"] = s.get("p95_ms")
            fields[f"rtf_0_6b_{key}"] = s.get("rtf")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
