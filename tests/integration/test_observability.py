"""Metrics, liveness and readiness against real processes: a two-worker gunicorn API (subprocess, the
repository's gunicorn.conf.py), real Celery workers with their own /metrics port, real Redis."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import requests
import soundfile as sf
from prometheus_client.parser import text_string_to_metric_families

from budgie.localstack import ROOT, free_port, start_celery_worker, stop_process, wait_until
from tests.conftest import SHIPPED_MODEL, TEST_MODEL, TEST_MODEL_FULL, wait_for

PREFIX = "budgie-obs"  # the gunicorn API's own key prefix: only workers started here count for /ready
READY_MODEL = TEST_MODEL_FULL  # its default model; the session-wide worker does not serve this one


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def scrape(url: str) -> str:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def wav_bytes(seconds: float = 2.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def gunicorn_api(redis_client, test_registry, tmp_path_factory):
    """``gunicorn -w 2 'app:create_app()'`` as deployed (gunicorn.conf.py from the working directory)."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    metrics_dir = tmp / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale file of an earlier run")
    port = free_port()
    env = {
        **os.environ,
        "BUDGIE_KEY_PREFIX": PREFIX,
        "BUDGIE_DEFAULT_MODEL": READY_MODEL,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log_path = tmp / "gunicorn.log"
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "--threads",
                "4",
                "-b",
                f"127.0.0.1:{port}",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:  # not /health: the test counts those
        try:
            return requests.get(f"{base}/ready", timeout=2).status_code in (200, 503)
        except requests.RequestException:  # not listening yet, or no worker booted yet
            return False

    try:
        wait_until(up, proc, log_path, "gunicorn API", timeout=60)
        yield {"url": base, "metrics_dir": metrics_dir, "env": env, "log": log_path}
    finally:
        stop_process(proc, timeout=20)
        for key in redis_client.scan_iter(f"{PREFIX}:*"):
            redis_client.delete(key)


def test_two_gunicorn_workers_report_one_count(gunicorn_api):
    """Every scrape, whichever process answers it, sees the requests both processes served."""
    base, metrics_dir = gunicorn_api["url"], gunicorn_api["metrics_dir"]
    assert not (metrics_dir / "counter_999999.db").exists(), "the multiprocess dir is emptied at start"

    def pids_that_counted() -> set[str]:
        return {m.group(1) for f in metrics_dir.iterdir() if (m := re.fullmatch(r"counter_(\d+)\.db", f.name))}

    sent = 0
    while len(pids_that_counted()) < 2:  # a new connection per request: the kernel spreads them
        assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        sent += 1
        assert sent < 400, "only one gunicorn worker ever answered"
    for _ in range(20):
        sent += 1
        assert requests.get(f"{base}/health", timeout=5).status_code == 200
    assert requests.get(f"{base}/no/such/route/123", timeout=5).status_code == 404

    seen = set()
    for _ in range(12):
        text = scrape(f"{base}/metrics")
        seen.add(samples(text, "budgie_http_requests_total", route="/health", status="200"))
        assert samples(text, "budgie_http_request_duration_seconds_count", route="/health") == sent
        assert samples(text, "budgie_http_requests_total", route="<unmatched>", status="404") == 1
    assert seen == {sent}, f"scrapes disagree: {seen} (sent {sent})"


def test_ready_follows_the_default_models_worker(gunicorn_api, tmp_path):
    """/health never looks at dependencies; /ready is 503 naming the missing worker until one heartbeats
    for the default model's queue, and 503 again once it stops."""
    base = gunicorn_api["url"]
    queue = f"transcribe.{READY_MODEL}"
    not_ready = requests.get(f"{base}/ready", timeout=5)
    assert not_ready.status_code == 503
    assert not_ready.json()["missing"] == [f"worker:{queue}"]
    assert requests.get(f"{base}/health", timeout=5).status_code == 200

    log_path = tmp_path / "worker.log"
    env = {**gunicorn_api["env"], "BUDGIE_HEARTBEAT_S": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    worker = start_celery_worker(queue, "obs-ready", env, log_path)
    try:
        wait_until(
            lambda: requests.get(f"{base}/ready", timeout=5).status_code == 200, worker, log_path, "ready", timeout=180
        )
        body = requests.get(f"{base}/ready", timeout=5).json()
        assert body["status"] == "ready" and body["checks"]["default_model"] == READY_MODEL
    finally:
        stop_process(worker, timeout=20)
    gone = wait_for(
        lambda: (r := requests.get(f"{base}/ready", timeout=5)).status_code == 503 and r.json(),
        20,
        what="/ready to turn 503 once the worker stopped",
    )
    assert gone["missing"] == [f"worker:{queue}"]


def test_ready_names_redis_when_it_is_unreachable():
    from app import create_app
    from tests.conftest import test_settings

    app = create_app(test_settings(redis_url="redis://127.0.0.1:1/0"), testing=True)
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.get_json()["missing"] == ["redis"]
    assert app.test_client().get("/health").status_code == 200


def test_worker_serves_stage_and_job_histograms(celery_worker, client):
    """A completed job moves the worker's stage duration/RTFx and job histograms, per model and stage,
    and the API's jobs-by-state counts."""
    worker_before, api_before = scrape(celery_worker.metrics_url), client.get("/metrics").get_data(as_text=True)
    created = client.post(
        "/v1/audio/transcriptions",
        data={"file": (io.BytesIO(wav_bytes(2.0)), "tone.wav"), "model": TEST_MODEL},
        content_type="multipart/form-data",
    )
    assert created.status_code == 201
    job_id = created.get_json()["id"]
    wait_for(
        lambda: client.get(f"/v1/audio/transcriptions/{job_id}").get_json()["status"] == "completed",
        120,
        what="the job to complete",
    )
    after = wait_for(
        lambda: (
            (t := scrape(celery_worker.metrics_url))
            and samples(t, "budgie_job_duration_seconds_count", model=TEST_MODEL)
            > samples(worker_before, "budgie_job_duration_seconds_count", model=TEST_MODEL)
            and t
        ),
        10,
        what="the job histogram on the worker",
    )

    def moved(name: str, **labels: str) -> float:
        return samples(after, name, model=TEST_MODEL, **labels) - samples(
            worker_before, name, model=TEST_MODEL, **labels
        )

    for stage in ("prepare", "transcribe", "merge"):
        assert moved("budgie_stage_duration_seconds_count", stage=stage) == 1, stage
        assert moved("budgie_stage_rtfx_count", stage=stage) == 1, stage
        assert moved("budgie_stage_runs_total", stage=stage, outcome="completed") == 1, stage
    assert moved("budgie_job_duration_seconds_count") == 1 and moved("budgie_job_rtfx_count") == 1
    assert moved("budgie_job_duration_seconds_sum") > 0
    # RTFx = 2 s of audio / wall time, so its sum is positive and finite
    assert 0 < moved("budgie_stage_rtfx_sum", stage="transcribe") < 1e6
    assert samples(after, "budgie_model_loaded", model=TEST_MODEL) == 1
    assert samples(after, "budgie_model_loaded", model=SHIPPED_MODEL) == 1

    api_after = client.get("/metrics").get_data(as_text=True)
    completed = "budgie_jobs_finished_total"
    assert samples(api_after, completed, state="completed") == samples(api_before, completed, state="completed") + 1
    running = "budgie_jobs_active"
    assert samples(api_after, running, state="running") == samples(api_before, running, state="running")


def test_queue_depth_counts_tasks_nobody_consumes(celery_worker, client):
    """parakeet-0.6b has no worker here: after prepare, its transcribe task waits in the broker list."""
    queue = "transcribe.parakeet-0.6b"

    def depth() -> float:
        return samples(client.get("/metrics").get_data(as_text=True), "budgie_queue_depth", queue=queue)

    before = depth()
    created = client.post(
        "/v1/audio/transcriptions",
        data={"file": (io.BytesIO(wav_bytes(1.0)), "tone.wav"), "model": "parakeet-0.6b"},
        content_type="multipart/form-data",
    )
    job_id = created.get_json()["id"]
    try:
        wait_for(lambda: depth() == before + 1, 60, what=f"{queue} to hold the job's task")
        text = client.get("/metrics").get_data(as_text=True)
        assert samples(text, "budgie_jobs_active", state="running") >= 1  # prepare ran: the job is running
        assert 'budgie_queue_depth{queue="prepare"}' in text
    finally:
        client.delete(f"/v1/audio/transcriptions/{job_id}")
