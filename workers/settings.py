"""Worker-side settings, read once from the environment (the only place workers read os.environ)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    redis_url: str
    data_dir: Path
    device: str  # auto | cuda | cpu
    key_prefix: str
    max_chunk_s: float
    batch_size: int
    preload_models: tuple[str, ...]
    job_ttl_s: int
    # diarization (docs/diarization.md)
    diarizer: str = "embedded"  # embedded | pyannote
    diarizer_fallback: str = ""  # "embedded": use it when the pyannote pipeline cannot be loaded
    pyannote_model: str = "pyannote/speaker-diarization-community-1"  # hub id or local directory
    hf_token: str | None = None


def get_settings() -> Settings:
    return Settings(
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        data_dir=Path(os.environ.get("BUDGIE_DATA_DIR", "/tmp/budgie-data")),
        device=os.environ.get("BUDGIE_DEVICE", "auto").lower(),
        key_prefix=os.environ.get("BUDGIE_KEY_PREFIX", "budgie"),
        max_chunk_s=float(os.environ.get("BUDGIE_MAX_CHUNK_S", "60")),
        batch_size=int(os.environ.get("BUDGIE_BATCH_SIZE", "4")),
        preload_models=tuple(m for m in os.environ.get("BUDGIE_MODELS", "").split(",") if m),
        job_ttl_s=int(os.environ.get("BUDGIE_JOB_TTL_S", str(7 * 24 * 3600))),
        diarizer=os.environ.get("BUDGIE_DIARIZER", "embedded").strip().lower(),
        diarizer_fallback=os.environ.get("BUDGIE_DIARIZER_FALLBACK", "").strip().lower(),
        pyannote_model=os.environ.get("BUDGIE_PYANNOTE_MODEL", "pyannote/speaker-diarization-community-1"),
        hf_token=os.environ.get("HF_TOKEN") or None,
    )
