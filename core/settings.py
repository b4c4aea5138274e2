"""Every Budgie setting in one typed, frozen object, read from the environment once per process.

This is the only module that reads ``os.environ``. Each field's environment variable is
``BUDGIE_<FIELD>`` unless an alias says otherwise (``REDIS_URL``, ``MAX_SESSIONS``, ``WORKER_*``,
``HF_TOKEN`` keep the names operators already use). Tests and benchmarks build a ``Settings(...)``
with keyword overrides, or call :func:`get_settings` after setting the environment of a subprocess.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Csv = Annotated[tuple[str, ...], NoDecode]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Configuration shared by the API, the Celery workers, the streaming worker and the tools."""

    model_config = SettingsConfigDict(env_prefix="BUDGIE_", frozen=True, extra="ignore", validate_by_name=True)

    # -- shared ---------------------------------------------------------------------------------
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_alias("REDIS_URL", "BUDGIE_REDIS_URL"))
    """Broker, result backend, job store and worker registries."""
    key_prefix: str = "budgie"
    """Prefix of every Budgie Redis key (see core.keys)."""
    data_dir: Path = Path("/tmp/budgie-data")
    """Shared storage for uploads and stage artifacts."""
    registry_files: str = ""
    """Extra registry YAML files (os.pathsep-separated) merged over the built-in one."""
    job_ttl_s: int = 7 * 24 * 3600
    """How long jobs (records and files) are kept."""
    log_format: Literal["json", "text"] = "json"
    """``json``: one JSON object per line with job_id/session_id; ``text``: for a terminal."""
    log_level: str = "INFO"
    allow_private_urls: bool = Field(
        False, validation_alias=_alias("BUDGIE_ALLOW_PRIVATE_URLS", "BUDGIE_WEBHOOK_ALLOW_PRIVATE")
    )
    """Let webhooks and ``audio_url`` reach loopback/private/link-local addresses (tests, private networks)."""

    # -- API ------------------------------------------------------------------------------------
    default_model: str = "parakeet"
    """Model used when a request names none."""
    max_duration_s: float = 4 * 3600
    """Longer audio is refused at submit (400)."""
    max_upload_mb: float = 1024
    """Uploads above this are refused (413)."""
    realtime_stale_s: float = 30
    """A streaming worker whose heartbeat is older is not routed to."""
    metrics_dir: str = Field("", validation_alias=_alias("PROMETHEUS_MULTIPROC_DIR"))
    """prometheus_client's multiprocess directory (gunicorn.conf.py sets one for the API when unset)."""

    # -- Celery ---------------------------------------------------------------------------------
    celery_broker_url: str = Field("", validation_alias=_alias("CELERY_BROKER_URL", "BUDGIE_CELERY_BROKER_URL"))
    """Default: ``redis_url``."""
    celery_result_backend: str = Field(
        "", validation_alias=_alias("CELERY_RESULT_BACKEND", "BUDGIE_CELERY_RESULT_BACKEND")
    )
    """Default: ``redis_url``."""
    visibility_timeout_s: int = 7200
    """Redelivery delay for tasks whose worker died without acknowledging them."""
    task_time_limit_s: int = 3600
    """Hard limit per task (the soft limit is 30 s earlier)."""

    # -- batch workers --------------------------------------------------------------------------
    device: Literal["auto", "cuda", "cpu"] = "auto"
    """``auto``: CUDA when present, else the CPU for CPU-capable models only."""
    models: Csv = ()
    """Extra models a worker preloads (comma-separated)."""
    max_chunk_s: float = 60.0
    """Longer files are cut at pauses into chunks of at most this."""
    batch_size: int = 4
    """Chunks per forward pass."""
    diarizer: Literal["embedded", "pyannote"] = "embedded"
    diarizer_fallback: Literal["", "none", "embedded"] = ""
    """``embedded``: use it when the pyannote pipeline cannot be loaded."""
    pyannote_model: str = "pyannote/speaker-diarization-community-1"
    """Hub id or local directory of a pyannote pipeline."""
    hf_token: str | None = Field(None, validation_alias=_alias("HF_TOKEN", "BUDGIE_HF_TOKEN"))

    # -- workers' registration in Redis ----------------------------------------------------------
    heartbeat_s: float = 3.0
    """How often workers rewrite their registry entry."""
    registry_ttl_s: int = 15
    """A dead worker's entry disappears after this."""

    # -- crash recovery (workers/recovery.py) ------------------------------------------------------
    stage_lease_s: float = 30.0
    """A running stage renews its lease every third of this; a lease left to expire means its worker died."""
    reaper_interval_s: float = 10.0
    """How often one batch worker looks for expired leases and re-enqueues their jobs."""
    stage_max_kills: int = 2
    """A stage whose worker died this many times fails its job (poison audio) instead of running again."""

    # -- streaming worker -----------------------------------------------------------------------
    worker_id: str = Field(default_factory=_default_worker_id, validation_alias=_alias("WORKER_ID", "BUDGIE_WORKER_ID"))
    worker_host: str = Field("0.0.0.0", validation_alias=_alias("WORKER_HOST", "BUDGIE_WORKER_HOST"))
    worker_port: int = Field(9000, validation_alias=_alias("WORKER_PORT", "BUDGIE_WORKER_PORT"))
    worker_advertise_host: str = Field(
        "127.0.0.1", validation_alias=_alias("WORKER_ADVERTISE_HOST", "BUDGIE_WORKER_ADVERTISE_HOST")
    )
    """The host the API connects to (written to the worker's registry entry)."""
    max_sessions: int = Field(4, validation_alias=_alias("MAX_SESSIONS", "BUDGIE_MAX_SESSIONS"))
    worker_threads: int = Field(0, validation_alias=_alias("WORKER_THREADS", "BUDGIE_WORKER_THREADS"))
    """WSGI threads; 0 = max_sessions + 8."""
    stream_model: Csv = ("parakeet-tiny-en",)
    """Models a streaming worker serves (comma-separated; the first is its default)."""
    stream_att_context: Annotated[tuple[int, int] | None, NoDecode] = (70, 1)
    """Cache-aware attention context [left, right]; empty = the model's default."""
    stream_left_s: float = 4.0
    """Buffered mode: left context."""
    stream_chunk_s: float = 0.8
    """Buffered mode: new audio decoded per step."""
    stream_right_s: float = 0.8
    """Buffered mode: lookahead."""
    vad_threshold: float = 0.5
    vad_silence_ms: int = 500
    """Silence that ends an utterance."""
    max_utterance_s: float = 30.0
    """Force a final after this much audio without an endpoint."""
    max_frame_bytes: int = 256 * 1024
    """One binary frame; bigger closes the session (4413)."""
    stream_idle_s: float = 60.0
    """No message for this long closes the session (4408)."""
    stream_max_batch: int = 32
    torch_threads: int = 0
    """0 = torch's default."""
    stream_quantize: Literal["", "int8"] = ""
    """``int8``: dynamic int8 encoder Linear layers (CPU; faster, not bit-exact)."""

    # -- OpenAI-compatible surface and the budgie client/CLI (issue 13) ---------------------------
    openai_wait_s: float = 600.0
    """``/openai/v1/audio/*`` waits this long for the job, then answers 504 naming the native job id."""
    openai_model_names: Csv = (
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-transcribe-diarize",
        "gpt-transcribe",
    )
    """OpenAI model names the compatible surface accepts as ``default_model`` (comma-separated)."""
    server_url: str = Field("http://127.0.0.1:8000", validation_alias=_alias("BUDGIE_URL", "BUDGIE_SERVER_URL"))
    """The server the ``budgie`` CLI and ``budgie.client.Client`` talk to by default."""
    api_key: str | None = Field(None, validation_alias=_alias("BUDGIE_API_KEY"))
    """The key the ``budgie`` CLI sends as ``Authorization: Bearer`` (none by default)."""

    # -- storage, audio_url and housekeeping (issue 17: several hosts, no shared disk) ------------
    storage_url: str = ""
    """Where uploads and artifacts live: ``file:///srv/budgie`` or ``s3://bucket/prefix``; empty = ``data_dir``."""
    scratch_dir: Path | None = None
    """Local scratch for a running stage (removed after it); default ``<data_dir>/scratch``."""
    aws_endpoint_url: str = Field("", validation_alias=_alias("AWS_ENDPOINT_URL", "BUDGIE_AWS_ENDPOINT_URL"))
    """S3 endpoint (MinIO, Ceph RGW); empty = AWS."""
    aws_default_region: str = Field("", validation_alias=_alias("AWS_DEFAULT_REGION", "BUDGIE_AWS_DEFAULT_REGION"))
    aws_access_key_id: str = Field("", validation_alias=_alias("AWS_ACCESS_KEY_ID", "BUDGIE_AWS_ACCESS_KEY_ID"))
    aws_secret_access_key: SecretStr = Field(
        SecretStr(""), validation_alias=_alias("AWS_SECRET_ACCESS_KEY", "BUDGIE_AWS_SECRET_ACCESS_KEY")
    )
    """Empty credentials: boto3's own chain (instance role, ~/.aws) decides."""
    s3_part_mb: int = 16
    """Multipart threshold and part size for S3 transfers (memory per transfer is a few parts)."""
    audio_url_max_mb: float = 1024
    """``audio_url`` bodies above this fail the job."""
    audio_url_timeout_s: float = 30
    """Connect/read timeout for ``audio_url`` downloads (per network operation)."""
    sweep_interval_s: float = 600
    """How often one worker in the cluster removes stored files whose job record is gone (0 = never)."""
    sweep_grace_s: float = 300
    """Files younger than this are left alone by the sweep."""

    # -- auth, quotas and webhooks (issue 12; see docs/security.md) -----------------------------
    auth: bool = True
    """``off``: no API key is checked and no quota applies (tests, the embedded demo); warned at start."""
    admin_key: SecretStr | None = None
    """``BUDGIE_ADMIN_KEY``: accepted as a key with every scope (bootstrap, scripts); never stored."""
    rate_limit_per_minute: int = 600
    """Requests per minute per key, unless the key's record says otherwise."""
    max_active_jobs: int = 20
    """Pending plus running batch jobs per tenant."""
    max_streams: int = 4
    """Open streaming sessions per tenant."""
    audio_seconds_per_day: float = 24 * 3600.0
    """Seconds of batch audio a tenant may submit per UTC day."""
    stream_lease_s: int = 30
    """A streaming session's slot is a lease refreshed while open; a crashed relay's slot frees after this."""
    webhook_secret: SecretStr | None = None
    """Signs webhooks of jobs whose key has no secret of its own (the admin key, auth off)."""
    webhook_retry_base_s: float = 12.0
    """First retry delay; each next one is 4x longer (12 s .. 51 min: 6 tries over about 68 minutes)."""
    webhook_max_attempts: int = 6
    webhook_timeout_s: float = 10.0

    # -- the Parakeet family (issue 16): endpointing and the hub weights cache --------------------
    stream_endpointing: Csv = ()
    """What ends a streaming utterance: ``eou``, ``vad`` or both (comma-separated); empty = each model's
    registry ``endpointing`` (``eou,vad`` for models with an <EOU> token, else ``vad``)."""
    hf_hub_cache: str = Field("", validation_alias=_alias("HF_HUB_CACHE", "BUDGIE_HF_HUB_CACHE"))
    """Where hub weights are cached (default ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    hf_home: str = Field("", validation_alias=_alias("HF_HOME"))

    @field_validator("stream_endpointing", mode="before")
    @classmethod
    def _endpointers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(v.strip().lower() for v in value.split(",") if v.strip())
        if set(value) - {"eou", "vad"}:
            raise ValueError("must be eou, vad or eou,vad")
        return value

    @property
    def hub_cache_dir(self) -> Path:
        if self.hf_hub_cache:
            return Path(self.hf_hub_cache)
        return Path(self.hf_home) / "hub" if self.hf_home else Path.home() / ".cache" / "huggingface" / "hub"

    @field_validator("admin_key", "webhook_secret", mode="before")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # an empty variable (compose's ${X:-}) means unset
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(raw.strip()) < 16:
            raise ValueError("must be at least 16 characters (use a random secret, e.g. `openssl rand -hex 32`)")
        return raw.strip()

    # -- observability (issue 11: metrics, health, readiness) -----------------------------------------
    metrics_port: int = 0
    """A Celery worker serves Prometheus ``/metrics`` on this port (0: none). The API and the streaming
    worker serve ``/metrics`` on their own HTTP port."""

    # -- streaming clients: back-pressure and send limits (issue 15 / 14.2) ----------------------
    stream_max_backlog_s: float = 10.0
    """Audio a session may have queued ahead of the model; beyond it the worker stops reading its socket
    (TCP back-pressure) until the model catches up."""
    stream_lag_warn_s: float = 3.0
    """Audio waiting longer than this gets a ``processing_lag`` warning (at most one a second)."""
    stream_max_lag_s: float = 30.0
    """Audio waiting longer than this closes the session: ``processing_lag`` error, close 4504 (0 = never)."""
    stream_max_outbox: int = 1000
    """Messages a session may have queued unsent; a client that reads none of them is dropped."""
    stream_send_buffer_bytes: int = 0
    """SO_SNDBUF of each session's socket (0 = the kernel's auto-tuning)."""

    @field_validator("models", "stream_model", "openai_model_names", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("stream_att_context", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in value.strip().strip("[]").split(",") if p.strip()]
            return tuple(int(p) for p in parts) if parts else None
        return value

    @field_validator("device", "diarizer", "diarizer_fallback", "stream_quantize", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    # -- derived --------------------------------------------------------------------------------
    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied (the object itself is frozen)."""
        return type(self).model_validate({**self.model_dump(), **changes})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with ``overrides``, for a child process (a worker started by a tool)."""
    return {**os.environ, **overrides}


def environment_names() -> set[str]:
    """Every environment variable :class:`Settings` reads (for docs and compose checks)."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"BUDGIE_{name.upper()}")
    return names
