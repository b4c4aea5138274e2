"""Transcribe files through Budgie's own serving paths, for accuracy evaluation.

- :func:`batch_api`: the real batch stack (HTTP API -> Redis -> Celery worker -> merge), via
  :class:`budgie.localstack.LocalStack`.
- :func:`streaming`: a real streaming worker process at a given lookahead, fed by a WebSocket
  client; the transcript is the concatenation of ``transcript.final`` messages.

Both return ``(text, [(word, start_s, end_s), ...])`` per file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

Result = tuple[str, list[tuple[str, float, float]]]


def batch_api(
    paths: list[Path], model_id: str = "parakeet-tiny-en", redis_url: str = "redis://127.0.0.1:6379/10"
) -> list[Result]:
    from budgie.localstack import LocalStack

    results = []
    with LocalStack([model_id], redis_url) as stack:
        for path in paths:
            job = stack.transcribe(Path(path), model=model_id)
            if job["status"] != "completed":
                raise RuntimeError(f"{path}: job {job['status']}: {job.get('error')}")
            results.append((job["text"], [(w["text"], w["start"], w["end"]) for w in job["words"]]))
    return results


def streaming(
    paths: list[Path],
    lookahead: list[int],
    model_id: str = "parakeet-tiny-en",
    redis_url: str = "redis://127.0.0.1:6379/10",
    chunk_samples: int = 1600,
) -> list[Result]:
    """Stream each file (as fast as the worker accepts it) through a worker at ``lookahead`` = [left, right]."""
    import numpy as np
    import redis
    import soundfile as sf

    from budgie.client import StreamClient
    from budgie.localstack import free_port, start_stream_worker, stop_process, wait_until

    port = free_port()
    worker_id = f"eval-{os.getpid()}"
    prefix = f"budgie-eval-{os.getpid()}"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "BUDGIE_KEY_PREFIX": prefix,
        "WORKER_ID": worker_id,
        "WORKER_PORT": str(port),
        "WORKER_HOST": "127.0.0.1",
        "MAX_SESSIONS": "2",
        "BUDGIE_STREAM_MODEL": model_id,
        "BUDGIE_STREAM_ATT_CONTEXT": ",".join(map(str, lookahead)),
    }
    log_path = Path(tempfile.mkdtemp(prefix="budgie-eval-")) / "stream-worker.log"
    proc = start_stream_worker(env, log_path)
    r = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: r.exists(f"{prefix}:realtime:worker:{worker_id}"), proc, log_path, "the streaming worker")
        url = f"ws://127.0.0.1:{port}/v1/audio/transcriptions/stream?model={model_id}&word_timestamps=true"
        results = []
        for path in paths:
            audio, rate = sf.read(str(path), dtype="int16")
            client = StreamClient(url + f"&sample_rate={rate}", timeout=120)
            client.stream(np.ascontiguousarray(audio), chunk=chunk_samples)
            client.finish(timeout=120)
            finals = client.of_type("transcript.final")
            text = " ".join(m["text"] for m in finals if m.get("text"))
            words = [(w["text"], w["start"], w["end"]) for m in finals for w in m.get("words", [])]
            results.append((text, words))
        return results
    finally:
        stop_process(proc)
        for key in r.scan_iter(f"{prefix}:*"):
            r.delete(key)
