"""A batch worker SIGKILLed mid-transcription: the job is recovered by the next live worker within
seconds (not after the broker's 2 h visibility timeout), with the same transcript as an undisturbed
run; a job that kills its worker ``stage_max_kills`` times fails with a clear error instead of looping.

Real processes throughout: a redis-server of the test's own, real ``celery worker`` processes and
real SIGKILLs. Leases and the reaper run on short test timings (2 s lease, 1 s reaper)."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import TEST_MODEL, test_settings, wait_for
from tests.procs import RedisServer
from tests.speech import concatenate, silence, synthesize

pytestmark = pytest.mark.integration

QUEUES = f"prepare,merge,transcribe.{TEST_MODEL}"


@pytest.fixture(scope="module")
def long_wav(speech_dir) -> Path:
    """About two minutes of speech with pauses: many chunk batches, so a kill lands mid-stage."""
    gap = silence(speech_dir / "crash-gap.wav", 1.5)
    parts = []
    for i in range(12):
        parts += [synthesize(f"sentence number {i} is spoken here and then a pause", speech_dir / f"crash{i}.wav"), gap]
    block = concatenate(parts, speech_dir / "crash-block.wav")
    return concatenate([block] * 2, speech_dir / "crash-long.wav")


@pytest.fixture()
def stack(tmp_path, test_registry):
    """Own Redis, an API (Flask test client) on it, and a way to start and kill workers on it."""
    from app import create_app
    from budgie.localstack import start_celery_worker, stop_process, wait_until

    server = RedisServer(tmp_path)
    server.start()
    data_dir = tmp_path / "data"
    app = create_app(test_settings(redis_url=server.url, data_dir=data_dir, default_model=TEST_MODEL), testing=True)
    procs = []

    def start_worker(name: str, max_kills: int = 2):
        env = {
            **os.environ,
            "REDIS_URL": server.url,
            "BUDGIE_DATA_DIR": str(data_dir),
            "BUDGIE_STAGE_LEASE_S": "2",
            "BUDGIE_REAPER_INTERVAL_S": "1",
            "BUDGIE_STAGE_MAX_KILLS": str(max_kills),
        }
        log = tmp_path / f"{name}.log"
        proc = start_celery_worker(QUEUES, name, env, log)
        procs.append(proc)
        client = server.client()
        wait_until(
            lambda: any(TEST_MODEL in (client.hget(k, "models") or "") for k in client.scan_iter(f"*:worker:{name}@*")),
            proc,
            log,
            f"worker {name}",
            timeout=240,
        )
        return proc

    yield app.test_client(), start_worker
    for proc in procs:
        stop_process(proc, timeout=10)
    server.stop()


def submit(http, path: Path) -> str:
    resp = http.post(
        "/v1/audio/transcriptions",
        data={"file": (io.BytesIO(path.read_bytes()), "long.wav"), "model": TEST_MODEL},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def job(http, job_id: str) -> dict:
    return http.get(f"/v1/audio/transcriptions/{job_id}").get_json()


def transcribe_stage(http, job_id: str) -> dict:
    return next(s for s in job(http, job_id)["stages"] if s["stage"] == "transcribe")


def kill_mid_transcription(http, job_id: str, proc) -> None:
    wait_for(lambda: transcribe_stage(http, job_id)["status"] == "running", 240, what="transcribe to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert transcribe_stage(http, job_id)["status"] == "running", "the kill must land mid-stage"


def finished(http, job_id: str, timeout: float = 300) -> dict:
    return wait_for(
        lambda: (j := job(http, job_id))["status"] in ("completed", "failed", "cancelled") and j,
        timeout,
        what=f"{job_id} to finish",
    )


def test_a_killed_worker_is_recovered_with_the_same_transcript(stack, long_wav):
    http, start_worker = stack
    first = start_worker("crash-a")
    job_id = submit(http, long_wav)
    kill_mid_transcription(http, job_id, first)

    start_worker("crash-b")
    # the reaper notices the expired lease and re-enqueues; clients see the stage as retrying meanwhile
    seen = wait_for(
        lambda: (s := transcribe_stage(http, job_id))["status"] in ("retrying", "completed") or s.get("attempts") == 2,
        60,
        what="the lost stage to be recovered",
    )
    assert seen
    done = finished(http, job_id)
    assert done["status"] == "completed", done["error"]
    assert transcribe_stage(http, job_id)["attempts"] == 2
    assert [s["status"] for s in done["stages"]] == ["completed"] * len(done["stages"])

    undisturbed = finished(http, submit(http, long_wav))
    assert undisturbed["status"] == "completed"
    assert done["text"] == undisturbed["text"], "the recovered job must transcribe exactly as a clean run"


def test_a_job_that_keeps_killing_its_worker_fails_clearly(stack, long_wav):
    http, start_worker = stack
    victim = start_worker("poison-a", max_kills=1)
    job_id = submit(http, long_wav)
    kill_mid_transcription(http, job_id, victim)

    start_worker("poison-b", max_kills=1)
    done = finished(http, job_id, timeout=120)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "worker_died"
    assert "died 1 times" in done["error"]["message"] and "transcribe" in done["error"]["message"]
    assert transcribe_stage(http, job_id)["status"] == "failed"
