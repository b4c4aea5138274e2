"""The S3 backend end to end, with no shared disk: a real S3 API (moto's standalone server), a Redis of
its own, the API in-process and TWO Celery workers, each with its own local data and scratch
directories (one runs prepare/merge, the other transcribe/diarize). A job can only complete if every
file really travels through the object store.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
import srt

from bench.diarize import LINES, make_dialogue
from budgie.localstack import free_port, start_celery_worker, stop_process, wait_until
from tests.conftest import TEST_MODEL, wait_for
from tests.conftest import test_settings as settings_with
from tests.fileserver import serve_directory
from tests.speech import synthesize

BUCKET, PREFIX, KEY_PREFIX = "budgie-test", "deploy", "budgie-s3"
TERMINAL = {"completed", "failed", "cancelled"}
CREDENTIALS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def start_logged(command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A Redis server of this module's own, so its workers never take the session worker's tasks."""
    import redis

    port = free_port()
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    proc = start_logged(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], log
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, decode_responses=True)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(up, proc, log, "the module's redis-server", timeout=30)
        yield url
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's standalone S3 server on a free loopback port, with the test bucket."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = start_logged([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(endpoint, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_until(up, proc, log, "moto_server", timeout=60)
        boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        stop_process(proc, timeout=10)


def _boto_credentials() -> dict[str, str]:
    return {
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, **_boto_credentials())


@pytest.fixture(scope="module")
def stack(own_redis, s3_endpoint, test_model_paths, tmp_path_factory):
    """Two workers that share nothing but Redis and the bucket; yields their local directories."""
    import redis

    homes = {name: tmp_path_factory.mktemp(f"host-{name}") for name in ("cpu", "gpu")}
    queues = {"cpu": "prepare,merge,align", "gpu": f"transcribe.{TEST_MODEL},diarize"}
    procs, logs = {}, {}
    for name, home in homes.items():
        env = {
            **os.environ,
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": s3_endpoint,
            "REDIS_URL": own_redis,
            "BUDGIE_KEY_PREFIX": KEY_PREFIX,
            "BUDGIE_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
            "BUDGIE_DATA_DIR": str(home / "data"),
            "BUDGIE_SCRATCH_DIR": str(home / "scratch"),
            "BUDGIE_ALLOW_PRIVATE_URLS": "true",
            "BUDGIE_SWEEP_INTERVAL_S": "1",
            "BUDGIE_SWEEP_GRACE_S": "0",
        }
        logs[name] = home / "worker.log"
        procs[name] = start_celery_worker(queues[name], f"s3-{name}", env, logs[name])
    client = redis.Redis.from_url(own_redis, decode_responses=True)

    def ready() -> bool:
        entries = [client.hgetall(k) for k in client.scan_iter(f"{KEY_PREFIX}:batch:worker:*")]
        return len(entries) == 2 and any(TEST_MODEL in e.get("models", "") for e in entries)

    try:
        for name in homes:
            wait_until(ready, procs[name], logs[name], f"the {name} worker", timeout=300)
        yield {"homes": homes, "logs": logs, "redis": client}
    finally:
        for proc in procs.values():
            proc.terminate()  # both at once: each takes a few seconds to shut down
        for proc in procs.values():
            stop_process(proc, timeout=20)


@pytest.fixture()
def api(stack, s3_endpoint, own_redis, tmp_path):
    from app import create_app

    settings = settings_with(
        redis_url=own_redis,
        key_prefix=KEY_PREFIX,
        storage_url=f"s3://{BUCKET}/{PREFIX}",
        data_dir=tmp_path / "api-data",
        aws_endpoint_url=s3_endpoint,
        aws_default_region=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        default_model=TEST_MODEL,
        allow_private_urls=True,
    )
    return create_app(settings, testing=True).test_client()


@pytest.fixture(scope="module")
def sentence(tmp_path_factory) -> Path:
    from tests.speech import have_espeak

    assert have_espeak(), "espeak-ng and sox are required"
    return synthesize("the quick brown fox jumps over the lazy dog", tmp_path_factory.mktemp("s3speech") / "fox.wav")


def submit(api, path: Path, **form) -> str:
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), **{k: str(v) for k, v in form.items()}}
    resp = api.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def wait_done(api, job_id: str, timeout: float = 300) -> dict:
    return wait_for(
        lambda: (r := api.get(f"/v1/audio/transcriptions/{job_id}").get_json())["status"] in TERMINAL and r,
        timeout=timeout,
        interval=0.25,
        what=f"job {job_id}",
    )


def stored(s3, job_id: str) -> set[str]:
    prefix = f"{PREFIX}/jobs/{job_id}/"
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"][len(prefix) :] for o in listing.get("Contents", [])}


def test_a_job_completes_across_two_hosts_through_the_store(api, stack, s3, sentence):
    job_id = submit(api, sentence, model=TEST_MODEL)
    job = wait_done(api, job_id)
    assert job["status"] == "completed", job["error"]
    assert job["words"] and abs(job["duration"] - 2.6) < 1.0
    # the upload was consumed; the prepared audio and the transcript live in the bucket
    assert stored(s3, job_id) == {"audio.wav", "transcript.json"}
    # each host ran its own stages, and neither keeps a job file on its disk once a stage is over
    assert f"budgie.prepare[{job_id}.prepare] succeeded" in stack["logs"]["cpu"].read_text()
    assert f"budgie.transcribe[{job_id}.transcribe] succeeded" in stack["logs"]["gpu"].read_text()
    for home in stack["homes"].values():
        assert not (home / "data" / "jobs").exists()
        wait_for(
            lambda home=home: not any((home / "scratch").glob(f"{job_id}*")), 10, what="scratch removed after stages"
        )


def test_diarize_exports_and_delete_on_s3(api, stack, s3, tmp_path):
    dialogue = make_dialogue(tmp_path, "s3_two_voices", [("A", LINES[0]), ("B", LINES[1])], gaps=[0.6])
    job_id = submit(api, dialogue.wav, model=TEST_MODEL, speaker_detection="diarize", num_speakers=2)
    job = wait_done(api, job_id, timeout=420)
    assert job["status"] == "completed", job["error"]
    assert len(job["speakers"]) == 2
    assert stored(s3, job_id) == {"audio.wav", "transcript.json", "turns.json"}

    export = api.get(f"/v1/audio/transcriptions/{job_id}/export/srt")
    assert export.status_code == 200
    cues = list(srt.parse(export.get_data(as_text=True)))
    assert cues and any(c.content.startswith("[SPEAKER_") for c in cues)

    assert api.delete(f"/v1/audio/transcriptions/{job_id}").status_code == 204
    assert stored(s3, job_id) == set(), "deleting a job deletes its objects"
    assert api.get(f"/v1/audio/transcriptions/{job_id}").status_code == 404


def test_expired_jobs_objects_are_swept_by_a_worker(api, stack, s3, sentence):
    expired, kept = submit(api, sentence, model=TEST_MODEL), submit(api, sentence, model=TEST_MODEL)
    assert wait_done(api, expired)["status"] == wait_done(api, kept)["status"] == "completed"
    assert stored(s3, expired) and stored(s3, kept)
    stack["redis"].delete(f"{KEY_PREFIX}:job:{expired}")  # what BUDGIE_JOB_TTL_S does to a record
    wait_for(lambda: not stored(s3, expired), 30, what="the sweeper to remove the expired job's objects")
    assert stored(s3, kept) == {"audio.wav", "transcript.json"}, "a job with a record keeps its objects"


def test_audio_url_over_http_and_s3(api, stack, s3, sentence):
    with serve_directory(sentence.parent) as base:
        by_http = api.post("/v1/audio/transcriptions", json={"audio_url": f"{base}/{sentence.name}"})
        assert by_http.status_code == 201, by_http.get_json()
        job = wait_done(api, by_http.get_json()["id"])
    assert job["status"] == "completed", job["error"]
    assert job["words"] and job["request"]["audio_url"].endswith(sentence.name)

    s3.upload_file(str(sentence), BUCKET, "incoming/fox.wav")
    by_s3 = api.post("/v1/audio/transcriptions", data={"audio_url": f"s3://{BUCKET}/incoming/fox.wav"})
    assert by_s3.status_code == 201, by_s3.get_json()
    job = wait_done(api, by_s3.get_json()["id"])
    assert job["status"] == "completed", job["error"]
    assert abs(job["duration"] - 2.6) < 1.0

    other_job = f"s3://{BUCKET}/{PREFIX}/jobs/{job['id']}/audio.wav"  # maybe another tenant's audio
    refused = api.post("/v1/audio/transcriptions", data={"audio_url": other_job})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_audio_url"

    missing = api.post("/v1/audio/transcriptions", data={"audio_url": f"s3://{BUCKET}/incoming/nothing.wav"})
    job = wait_done(api, missing.get_json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "audio_url_failed" and "does not exist" in job["error"]["message"]
