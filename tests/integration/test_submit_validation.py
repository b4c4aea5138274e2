"""Bad requests are rejected at submit with a JSON error, before anything is enqueued."""

from __future__ import annotations

import io
import struct

import pytest

from tests.conftest import TEST_MODEL, test_settings
from tests.speech import synthesize


@pytest.fixture(scope="module")
def good_wav(speech_dir):
    return synthesize("hello there", speech_dir / "hello.wav").read_bytes()


def post(client, payload: bytes | None, name="a.wav", **form):
    data = {k: str(v) for k, v in form.items()}
    if payload is not None:
        data["file"] = (io.BytesIO(payload), name)
    return client.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")


def assert_error(resp, status, code=None, contains=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()["error"]
    assert set(body) >= {"code", "message"}
    if code:
        assert body["code"] == code
    if contains:
        assert contains in body["message"]
    return body


def queued_jobs(redis_client) -> int:
    return redis_client.zcard("budgie-test:jobs")


def test_non_english_language_is_rejected_at_submit(client, good_wav, redis_client):
    before = queued_jobs(redis_client)
    body = assert_error(post(client, good_wav, model="parakeet-0.6b", language="fr"), 400, "language_not_supported")
    assert body["message"] == "Model parakeet-0.6b only supports English"
    assert queued_jobs(redis_client) == before, "a rejected request must not create a job"


def test_alias_resolves_and_english_variants_pass_validation(client, good_wav):
    assert_error(
        post(client, good_wav, model="parakeet", language="de"), 400, contains="parakeet-0.6b only supports English"
    )
    resp = post(client, good_wav, model=TEST_MODEL, language="en-US")
    assert resp.status_code == 201


def test_unknown_model_lists_the_valid_ids(client, good_wav):
    body = assert_error(post(client, good_wav, model="whisper-9"), 400, "unknown_model")
    assert "parakeet-0.6b" in body["message"] and "parakeet-tiny-en" in body["message"]
    assert TEST_MODEL in body["details"]["valid_models"]


@pytest.mark.parametrize(
    "payload,name",
    [
        (b"", "empty.wav"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "truncated.wav"),
        (b"this is just some text pretending to be audio\n" * 3, "text.wav"),
        (bytes(range(256)) * 40, "noise.mp3"),
    ],
)
def test_unreadable_files_are_rejected(client, payload, name):
    assert_error(post(client, payload, name), 400, "invalid_audio", "Unable to read audio file")


def test_zero_length_audio_is_rejected(client):
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", 0)
    assert_error(post(client, header, "zero.wav"), 400, "invalid_audio")


def test_too_short_audio_is_rejected(client, speech_dir):
    import numpy as np
    import soundfile as sf

    path = speech_dir / "blip.wav"
    sf.write(path, np.zeros(800, dtype=np.float32), 16000)  # 50 ms
    assert_error(post(client, path.read_bytes(), "blip.wav"), 400, "invalid_audio", "too short")


def test_missing_file_is_rejected(client):
    assert_error(post(client, None, model=TEST_MODEL), 400, "invalid_request", "file")


def test_oversized_upload_gets_413(redis_client, good_wav):
    from app import create_app

    small = create_app(test_settings(max_upload_mb=1 / 1024), testing=True).test_client()
    assert_error(post(small, good_wav), 413, "payload_too_large", "File too large")


@pytest.mark.parametrize(
    "form,field",
    [
        ({"timestamps_granularity": "char"}, "timestamps_granularity"),
        ({"speaker_detection": "magic"}, "speaker_detection"),
        ({"num_speakers": "0"}, "num_speakers"),
        ({"num_speakers": "33"}, "num_speakers"),
        ({"min_speakers": "4", "max_speakers": "2"}, "min_speakers"),
        ({"language": "english please"}, "language"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_fields_are_rejected(client, good_wav, form, field):
    body = assert_error(post(client, good_wav, **form), 400, "invalid_request")
    assert field in body["details"]


def test_unknown_job_is_404(client):
    assert_error(client.get("/v1/audio/transcriptions/job_missing"), 404, "not_found")
    assert_error(client.delete("/v1/audio/transcriptions/job_missing"), 404, "not_found")


def test_bad_list_query_is_400(client):
    assert_error(client.get("/v1/audio/transcriptions?limit=1000"), 400, "invalid_request")


def test_models_catalogue(client):
    data = client.get("/v1/models").get_json()
    assert data["object"] == "list"
    by_id = {m["id"]: m for m in data["data"]}
    p = by_id["parakeet-0.6b"]
    assert p["engine"] == "parakeet" and p["engine_model"] == "nvidia/parakeet-rnnt-0.6b"
    assert p["languages"] == ["en"] and p["vram_gb"] == 4.0 and p["word_timestamps"] is True
    assert p["capabilities"]["streaming"] is True and p["tier"] == "fast"
    assert by_id["parakeet-1.1b"]["vram_gb"] == 6.0
    assert client.get("/v1/models/parakeet").get_json()["id"] == "parakeet-0.6b"
    assert_error(client.get("/v1/models/nope"), 404)


def test_health_and_metrics_count_submissions(client, good_wav):
    assert client.get("/health").get_json() == {"status": "ok"}
    post(client, good_wav, model=TEST_MODEL)
    text = client.get("/metrics").get_data(as_text=True)
    assert f'budgie_jobs_submitted_total{{model="{TEST_MODEL}"}}' in text
    assert 'budgie_http_requests_total{method="POST",route="/v1/audio/transcriptions",status="201"}' in text


def test_pending_job_without_a_worker_says_so(client, good_wav):
    """parakeet-0.6b needs a GPU worker; none runs here, so the accepted job explains why it waits."""
    job_id = post(client, good_wav, model="parakeet-0.6b").get_json()["id"]
    job = client.get(f"/v1/audio/transcriptions/{job_id}").get_json()
    assert job["status"] == "pending"
    assert "No worker is serving model parakeet-0.6b" in job["warnings"][0]
    assert client.delete(f"/v1/audio/transcriptions/{job_id}").get_json()["status"] == "cancelled"
