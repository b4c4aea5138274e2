"""Redis goes away under the API: every endpoint answers a retryable 503 JSON (not a 500), a submit
leaves nothing behind, a WebSocket gets an ``error`` and close 1011, and all is well once Redis is back.

The test runs its own ``redis-server`` on a free port (real process, real SIGTERM)."""

from __future__ import annotations

import io
import json
import threading

import pytest

from budgie.localstack import free_port
from tests.conftest import TEST_MODEL, test_settings
from tests.procs import RedisServer
from tests.speech import silence

pytestmark = pytest.mark.integration


@pytest.fixture()
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def assert_unavailable(resp) -> None:
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"].isdigit()
    assert resp.get_json()["error"]["code"] == "service_unavailable"


def test_redis_outage_gives_503_everywhere_and_recovers(own_redis, tmp_path, speech_dir, test_registry):
    from app import create_app

    data_dir = tmp_path / "data"
    app = create_app(test_settings(redis_url=own_redis.url, data_dir=data_dir, default_model=TEST_MODEL), testing=True)
    http = app.test_client()
    wav = silence(speech_dir / "outage.wav", 1.0).read_bytes()

    def submit():
        return http.post(
            "/v1/audio/transcriptions",
            data={"file": (io.BytesIO(wav), "a.wav"), "model": TEST_MODEL},
            content_type="multipart/form-data",
        )

    created = submit()
    assert created.status_code == 201, created.get_data(as_text=True)
    job_id = created.get_json()["id"]
    jobs_on_disk = {p.name for p in data_dir.iterdir()}

    own_redis.stop()
    assert_unavailable(submit())
    assert {p.name for p in data_dir.iterdir()} == jobs_on_disk, "a failed submit must not leave its upload"
    for resp in (
        http.get(f"/v1/audio/transcriptions/{job_id}"),
        http.get("/v1/audio/transcriptions"),
        http.delete(f"/v1/audio/transcriptions/{job_id}"),
        http.get(f"/v1/audio/transcriptions/{job_id}/export/srt"),
        http.get("/v1/models"),
    ):
        assert_unavailable(resp)

    messages, close_code = _stream_once(app)
    assert close_code == 1011
    assert messages and messages[0]["type"] == "error" and messages[0]["code"] == "service_unavailable"

    own_redis.start()  # an empty Redis: the job is gone with it, and the API says so cleanly
    assert http.get(f"/v1/audio/transcriptions/{job_id}").status_code == 404
    assert http.get("/v1/audio/transcriptions").status_code == 200


def _stream_once(app) -> tuple[list[dict], int | None]:
    """Open one WebSocket session through the real relay; return the messages and the close code."""
    from simple_websocket import Client, ConnectionClosed
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    messages: list[dict] = []
    try:
        ws = Client.connect(f"ws://127.0.0.1:{server.server_port}/v1/audio/transcriptions/stream?model={TEST_MODEL}")
        try:
            while True:
                data = ws.receive(timeout=10)
                if data is None:
                    break
                messages.append(json.loads(data))
        except ConnectionClosed:
            pass
        return messages, ws.close_reason
    finally:
        server.shutdown()


def test_worker_bookkeeping_rides_out_a_redis_restart(own_redis):
    """Workers' job-store client retries through a restart (the API's fails fast, with its 503)."""
    import redis

    from core.jobstore import JobStore

    patient = JobStore.from_url(own_redis.url, "budgie-outage", 60, patient=True)
    hasty = JobStore.from_url(own_redis.url, "budgie-outage", 60)
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        hasty.status("job_x")
    restart = threading.Timer(2.0, own_redis.start)
    restart.start()
    try:
        assert patient.status("job_x") is None, "answered once Redis was back, instead of raising"
    finally:
        restart.join()
