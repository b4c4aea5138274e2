"""API configuration: built-in defaults, overridden by ``BUDGIE_``-prefixed environment variables,
overridden by the mapping a test passes to ``create_app``."""
from __future__ import annotations

import os

DEFAULTS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "BUDGIE_DATA_DIR": "/tmp/budgie-data",
    "BUDGIE_KEY_PREFIX": "budgie",
    "BUDGIE_DEFAULT_MODEL": "parakeet",
    "BUDGIE_JOB_TTL_S": 7 * 24 * 3600,
    "BUDGIE_MAX_DURATION_S": 4 * 3600,
    "MAX_CONTENT_LENGTH": 1024 * 1024 * 1024,  # 1 GiB uploads -> 413 beyond
    "BUDGIE_REALTIME_STALE_S": 30,
}


def from_environment() -> dict:
    """Return the defaults with any same-named environment variable applied (typed like the default)."""
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if key in os.environ:
            config[key] = type(default)(os.environ[key])
    if "BUDGIE_MAX_UPLOAD_MB" in os.environ:
        config["MAX_CONTENT_LENGTH"] = int(float(os.environ["BUDGIE_MAX_UPLOAD_MB"]) * 1024 * 1024)
    return config
