"""The one settings object: typed, read once, the only reader of the environment."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings, environment_names

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = ("app", "core", "workers", "registry", "budgie")


def test_no_module_but_the_settings_reads_the_environment():
    readers = []
    for package in SERVICE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if re.search(r"os\.environ(?!\s*\})|os\.getenv|environ\.get", text) and path != ROOT / "core/settings.py":
                readers.append(str(path.relative_to(ROOT)))
    assert readers == [], f"read the environment through core.settings instead: {readers}"


def test_operator_names_and_typed_values(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/3")
    monkeypatch.setenv("MAX_SESSIONS", "9")
    monkeypatch.setenv("BUDGIE_MODELS", "parakeet-tiny-en, parakeet-0.6b")
    monkeypatch.setenv("BUDGIE_STREAM_ATT_CONTEXT", "[70,13]")
    monkeypatch.setenv("BUDGIE_DEVICE", "CPU")
    s = Settings()
    assert s.redis_url == "redis://example:6379/3" and s.broker_url == s.redis_url
    assert s.max_sessions == 9 and s.models == ("parakeet-tiny-en", "parakeet-0.6b")
    assert s.stream_att_context == (70, 13) and s.device == "cpu"
    assert {"REDIS_URL", "MAX_SESSIONS", "WORKER_PORT", "BUDGIE_JOB_TTL_S"} <= environment_names()


def test_bad_values_fail_at_start_up_with_the_field_named(monkeypatch):
    monkeypatch.setenv("BUDGIE_DEVICE", "tpu")
    with pytest.raises(ValidationError, match="device"):
        Settings()


def test_settings_are_frozen_and_copied_with_changes():
    s = Settings(max_sessions=2)
    with pytest.raises(ValidationError):
        s.max_sessions = 3  # type: ignore[misc]
    assert s.replace(max_sessions=3).max_sessions == 3 and s.max_sessions == 2
