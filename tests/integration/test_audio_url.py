"""``audio_url`` on the local backend: cheap checks at submit (400), the download in PREPARE (the real
stage run in-process against real Redis, a real HTTP server on loopback, allowed explicitly), and
failures that name the URL's problem as ``{code, message}``."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_MODEL
from tests.fileserver import serve_directory
from tests.speech import synthesize

STAGES = ["prepare", "transcribe", "merge"]


@pytest.fixture(scope="module")
def served(speech_dir):
    wav = synthesize("hello from a web server", speech_dir / "served.wav")
    with serve_directory(speech_dir) as base:
        yield base, wav


def new_job(url: str) -> str:
    from core import jobstore
    from workers.stage import store

    job_id = jobstore.new_job_id()
    store().create(job_id, {"model": TEST_MODEL, "audio_url": url}, STAGES)
    return job_id


def run_prepare(job_id: str):
    from workers.prepare import prepare
    from workers.stage import StageError, store

    try:
        prepare(job_id)
    except StageError:
        pass
    return store().get(job_id)


def test_prepare_downloads_an_allowed_url(redis_client, worker_environment, served):
    from core.artifacts import AUDIO
    from workers.stage import artifacts

    base, wav = served
    worker_environment(BUDGIE_ALLOW_PRIVATE_URLS="true")
    job_id = new_job(f"{base}/{wav.name}")
    job = run_prepare(job_id)
    assert job["stages"][0]["status"] == "completed", job["error"]
    assert job["duration"] > 1.0
    assert artifacts(job_id).exists(AUDIO)


@pytest.mark.parametrize(
    ("variables", "path", "expected"),
    [
        ({"BUDGIE_ALLOW_PRIVATE_URLS": "true"}, "/missing.wav", "the server answered HTTP 404"),
        ({"BUDGIE_ALLOW_PRIVATE_URLS": "true", "BUDGIE_AUDIO_URL_MAX_MB": "0.01"}, "/served.wav", "-byte limit"),
        ({}, "/served.wav", "resolves to a loopback address"),  # private targets are refused by default
    ],
    ids=["404", "too-large", "private"],
)
def test_a_bad_url_fails_the_job_naming_the_problem(
    redis_client, worker_environment, served, client, variables, path, expected
):
    base, _ = served
    worker_environment(**variables)
    job_id = new_job(base + path)
    job = run_prepare(job_id)
    assert job["status"] == "failed" and job["error_code"] == "audio_url_failed"
    assert expected in job["error"] and job["error"].startswith("prepare: audio_url: ")
    shown = client.get(f"/v1/audio/transcriptions/{job_id}").get_json()
    assert shown["error"] == {"code": "audio_url_failed", "message": job["error"]}
    assert shown["stages"][0]["error"]["code"] == "audio_url_failed"


@pytest.mark.parametrize(
    ("body", "code", "contains"),
    [
        ({"audio_url": "http://127.0.0.1:9/a.wav"}, "invalid_audio_url", "loopback"),
        ({"audio_url": "ftp://example.com/a.wav"}, "invalid_audio_url", "only http and https"),
        ({"audio_url": "s3://bucket/a.wav"}, "invalid_audio_url", "S3 storage backend"),
        ({"audio_url": "http://no-such-host.invalid/a.wav"}, "invalid_audio_url", "cannot be resolved"),
        ({}, "invalid_request", "Missing audio"),
    ],
)
def test_submit_refuses_bad_urls_cheaply(client, redis_client, body, code, contains):
    before = redis_client.zcard("budgie-test:jobs")
    resp = client.post("/v1/audio/transcriptions", json={**body, "model": TEST_MODEL})
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == code and contains in error["message"]
    assert redis_client.zcard("budgie-test:jobs") == before, "a refused request creates no job"


def test_file_and_url_together_are_refused(client, served):
    base, wav = served
    data = {"file": (wav.open("rb"), wav.name), "audio_url": f"{base}/{wav.name}"}
    resp = client.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")
    assert resp.status_code == 400 and "not both" in resp.get_json()["error"]["message"]


def test_prepare_rerun_after_its_upload_was_consumed_passes_on(redis_client, worker_environment, served):
    """A PREPARE re-enqueued after its worker died between storing audio.wav and recording the stage."""
    from core import jobstore
    from core.artifacts import AUDIO
    from workers.prepare import prepare
    from workers.stage import artifacts, store

    _, wav = served
    worker_environment()
    job_id = jobstore.new_job_id()
    store().create(job_id, {"model": TEST_MODEL}, STAGES)
    artifacts(job_id).storage.put_bytes(artifacts(job_id).key(AUDIO), wav.read_bytes())
    assert prepare(job_id)["duration"] > 1.0
    assert store().get(job_id)["stages"][0]["status"] == "completed"
