"""Streaming-worker settings, read once from the environment (the only place this package reads it)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


def _ints(value: str) -> list[int] | None:
    value = value.strip().strip("[]")
    return [int(v) for v in value.split(",")] if value else None


@dataclass(frozen=True)
class StreamConfig:
    """Everything the worker needs; tests and the benchmark build it directly."""

    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    host: str = "0.0.0.0"
    port: int = 9000
    advertise_host: str = "127.0.0.1"  # what the API connects to (the endpoint written to Redis)
    max_sessions: int = 4
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "budgie"
    models: tuple[str, ...] = ("parakeet-tiny-en",)
    device: str = "auto"
    att_context_size: list[int] | None = field(default_factory=lambda: [70, 1])  # cache-aware [left, right]
    buffer_left_s: float = 4.0  # buffered mode: left context
    buffer_chunk_s: float = 0.8  # buffered mode: new audio decoded per step
    buffer_right_s: float = 0.8  # buffered mode: lookahead
    vad_threshold: float = 0.5
    vad_silence_ms: int = 500  # silence that ends an utterance
    max_utterance_s: float = 30.0  # force a final after this much audio without an endpoint
    max_frame_bytes: int = 256 * 1024  # one binary frame; bigger closes the session (4413)
    idle_timeout_s: float = 60.0  # no message for this long closes the session (4408)
    heartbeat_s: float = 3.0
    registry_ttl_s: int = 15  # a dead worker's entry disappears after this
    threads: int = 0  # WSGI threads; 0 = max_sessions + 8
    max_batch: int = 32
    torch_threads: int = 0  # 0 = torch's default
    quantize: str = ""  # "int8": dynamic int8 encoder Linear layers (CPU; ~2.5x faster, not bit-exact)


def from_environment() -> StreamConfig:
    """Build the config from WORKER_* / MAX_SESSIONS / REDIS_URL / BUDGIE_* variables."""
    env = os.environ
    base = StreamConfig()
    models = tuple(m for m in env.get("BUDGIE_STREAM_MODEL", ",".join(base.models)).split(",") if m)
    ctx = env.get("BUDGIE_STREAM_ATT_CONTEXT")
    return StreamConfig(
        worker_id=env.get("WORKER_ID", base.worker_id),
        host=env.get("WORKER_HOST", base.host),
        port=int(env.get("WORKER_PORT", base.port)),
        advertise_host=env.get("WORKER_ADVERTISE_HOST", base.advertise_host),
        max_sessions=int(env.get("MAX_SESSIONS", base.max_sessions)),
        redis_url=env.get("REDIS_URL", base.redis_url),
        key_prefix=env.get("BUDGIE_KEY_PREFIX", base.key_prefix),
        models=models,
        device=env.get("BUDGIE_DEVICE", base.device).lower(),
        att_context_size=_ints(ctx) if ctx is not None else base.att_context_size,
        buffer_left_s=float(env.get("BUDGIE_STREAM_LEFT_S", base.buffer_left_s)),
        buffer_chunk_s=float(env.get("BUDGIE_STREAM_CHUNK_S", base.buffer_chunk_s)),
        buffer_right_s=float(env.get("BUDGIE_STREAM_RIGHT_S", base.buffer_right_s)),
        vad_threshold=float(env.get("BUDGIE_VAD_THRESHOLD", base.vad_threshold)),
        vad_silence_ms=int(env.get("BUDGIE_VAD_SILENCE_MS", base.vad_silence_ms)),
        max_utterance_s=float(env.get("BUDGIE_MAX_UTTERANCE_S", base.max_utterance_s)),
        max_frame_bytes=int(env.get("BUDGIE_MAX_FRAME_BYTES", base.max_frame_bytes)),
        idle_timeout_s=float(env.get("BUDGIE_STREAM_IDLE_S", base.idle_timeout_s)),
        heartbeat_s=float(env.get("BUDGIE_HEARTBEAT_S", base.heartbeat_s)),
        registry_ttl_s=int(env.get("BUDGIE_REGISTRY_TTL_S", base.registry_ttl_s)),
        threads=int(env.get("WORKER_THREADS", base.threads)),
        max_batch=int(env.get("BUDGIE_STREAM_MAX_BATCH", base.max_batch)),
        torch_threads=int(env.get("BUDGIE_TORCH_THREADS") or base.torch_threads),
        quantize=env.get("BUDGIE_STREAM_QUANTIZE", base.quantize).lower(),
    )
