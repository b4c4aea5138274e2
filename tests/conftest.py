"""Shared fixtures: a private Redis db, a tiny NeMo model built from a config, a real Celery worker.

Nothing here is mocked: the API talks to the real Redis on 127.0.0.1:6379 (db 13, flushed before
and after), tasks run in a real ``celery worker`` subprocess, and the model is a real NeMo
FastConformer-RNNT built at test time (cached between runs in ~/.cache/budgie-test).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_DATA_DIR = tempfile.mkdtemp(prefix="budgie-test-data-")
os.environ.update(
    {
        "REDIS_URL": os.environ.get("BUDGIE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "BUDGIE_KEY_PREFIX": "budgie-test",
        "BUDGIE_DATA_DIR": _DATA_DIR,
        "BUDGIE_DEVICE": "cpu",
        "PYANNOTE_METRICS_ENABLED": "0",
        "HF_HUB_OFFLINE": "1",
        "BUDGIE_LOG_FORMAT": "text",
        # tests that are not about auth run without keys; auth tests turn it on (test_settings(auth=True))
        "BUDGIE_AUTH": "off",
    }
)

TEST_MODEL = "parakeet-test"  # cache-aware, random weights, built from a config
TEST_MODEL_FULL = "parakeet-test-full"  # full-context (offline-trained) variant, random weights
SHIPPED_MODEL = "parakeet-tiny-en"  # the embedded trained model (registry/weights): real words
CACHE = Path(os.environ.get("BUDGIE_TEST_CACHE", Path.home() / ".cache" / "budgie-test"))
MODEL_VERSION = "v2"  # bump when architectures.py changes what "test" builds


TEST_MODEL_PATHS = {
    TEST_MODEL: CACHE / f"parakeet-test-{MODEL_VERSION}.nemo",
    TEST_MODEL_FULL: CACHE / f"parakeet-test-full-{MODEL_VERSION}.nemo",
}
TEST_MODEL_BUILD = {TEST_MODEL: {}, TEST_MODEL_FULL: {"att_context_size": [-1, -1]}}


def _write_test_registry() -> Path:
    """Register the test models next to the built-in ones, for this process and its children, before
    anything reads the settings (the .nemo files themselves are built by the ``test_model_paths`` fixture)."""
    path = Path(_DATA_DIR) / "test-models.yaml"
    path.write_text(f"""
models:
  - id: {TEST_MODEL}
    name: Parakeet test (random weights)
    engine: parakeet
    source: {{path: {TEST_MODEL_PATHS[TEST_MODEL]}}}
    tier: test
    languages: [en]
    streaming: cache_aware
    att_context_sizes: [[70, 13], [70, 1]]
    word_timestamps: true
    supports_cpu: true
  - id: {TEST_MODEL_FULL}
    name: Parakeet test, full context (random weights)
    engine: parakeet
    source: {{path: {TEST_MODEL_PATHS[TEST_MODEL_FULL]}}}
    tier: test
    languages: [en]
    streaming: buffered
    word_timestamps: true
    supports_cpu: true
""")
    from tests.family import registry_models  # the Parakeet family's random-weight stand-ins

    with path.open("a") as fh:
        fh.write(_indent(yaml.safe_dump(registry_models(CACHE), sort_keys=False)))
    return path


def _indent(block: str) -> str:
    """A YAML list block indented to sit under ``models:``."""
    return "".join(f"  {line}\n" for line in block.splitlines())


os.environ["BUDGIE_REGISTRY_FILES"] = str(_write_test_registry())


def _build(path: Path, **kwargs) -> Path:
    if not path.exists():
        from train.architectures import build_and_save

        tmp = path.with_suffix(f".{os.getpid()}.tmp.nemo")
        build_and_save(tmp, "test", seed=0, **kwargs)
        tmp.replace(path)
    return path


@pytest.fixture(scope="session")
def test_model_paths() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    return {model: _build(path, **TEST_MODEL_BUILD[model]) for model, path in TEST_MODEL_PATHS.items()}


# Tests that use these need Redis, worker processes or NeMo models: they are the integration tier.
# ``pytest -m "not integration"`` runs the rest, the fast tier, with none of them.
INTEGRATION_FIXTURES = {
    "redis_client",
    "test_model_paths",
    "test_registry",
    "celery_worker",
    "app",
    "client",
    "speech_dir",
    "worker_environment",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration/" in item.nodeid or INTEGRATION_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)
    # the browser tests last: their streaming worker's registry entry must not outlive it into other modules
    items.sort(key=lambda item: item.nodeid.startswith("tests/browser/"))


@pytest.fixture(scope="session")
def test_registry(test_model_paths) -> Path:
    """The test models' registry file (written at import; their weights exist once this fixture ran)."""
    return Path(os.environ["BUDGIE_REGISTRY_FILES"])


@pytest.fixture(scope="session")
def redis_client():
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()


def test_settings(**changes):
    """The test process's settings with ``changes`` (Settings field names)."""
    from core.settings import get_settings

    return get_settings().replace(**changes)


@pytest.fixture()
def worker_environment(monkeypatch):
    """``worker_environment(NAME=value, ...)``: run in-process stage code as a worker started with that
    environment would (the settings are re-read now and again after the test)."""
    from core.settings import get_settings

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture()
def app(redis_client):
    from app import create_app

    return create_app(test_settings(default_model=TEST_MODEL), testing=True)


@pytest.fixture()
def client(app):
    return app.test_client()


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def celery_worker(redis_client, test_registry):
    """A real ``celery worker`` subprocess consuming every batch queue for the test model and the
    embedded trained model (``SHIPPED_MODEL``, used where the words themselves are asserted)."""
    from budgie.localstack import free_port, start_celery_worker, stop_process, wait_until

    log_path = Path(_DATA_DIR) / "worker.log"
    queues = f"prepare,align,diarize,merge,webhooks,transcribe.{TEST_MODEL},transcribe.{SHIPPED_MODEL}"
    metrics_port = free_port()
    env = {
        **os.environ,
        "BUDGIE_METRICS_PORT": str(metrics_port),
        # webhooks: test receivers listen on loopback, and retries wait milliseconds instead of minutes
        "BUDGIE_WEBHOOK_ALLOW_PRIVATE": "1",
        "BUDGIE_WEBHOOK_RETRY_BASE_S": "0.05",
    }
    proc = start_celery_worker(queues, "budgie-test", env, log_path)
    proc.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"  # its Prometheus endpoint

    def loaded() -> bool:
        return any(
            TEST_MODEL in (models := redis_client.hget(k, "models") or "") and SHIPPED_MODEL in models
            for k in redis_client.scan_iter("budgie-test:batch:worker:*")
        )

    try:
        wait_until(loaded, proc, log_path, "the test celery worker", timeout=180)
        yield proc
    finally:
        stop_process(proc, timeout=20)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    from tests.speech import have_espeak

    if not have_espeak():
        pytest.fail("espeak-ng and sox are required (apt-get install espeak-ng sox)")
    return tmp_path_factory.mktemp("speech")
