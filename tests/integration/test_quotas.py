"""Rate limits and tenant quotas with auth on: requests per minute counted across two gunicorn API
processes (flask-limiter on Redis), active jobs and audio seconds per tenant at submit, and streaming
sessions per tenant through a real streaming worker, including a slot freed after an API process dies."""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest
import requests
from simple_websocket import Client, ConnectionClosed

from core.apikeys import ApiKeyStore
from tests.apiserver import gunicorn_api, tone_wav
from tests.conftest import TEST_MODEL, TEST_MODEL_FULL, test_settings, wait_for

PREFIX = "budgie-test"
JOBS = "/v1/audio/transcriptions"
STREAM = "/v1/audio/transcriptions/stream"
LEASE_S = 8  # long enough to see the dead relay's slot still held, short enough to wait out


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture()
def store(redis_client) -> ApiKeyStore:
    return ApiKeyStore(redis_client, PREFIX)


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def auth_app(redis_client):
    from app import create_app

    return create_app(test_settings(auth=True, default_model=TEST_MODEL), testing=True)


@pytest.fixture(scope="module")
def stream_worker(redis_client, test_registry, tmp_path_factory):
    from tests.integration.test_streaming import start_worker, stop_worker

    worker = start_worker(redis_client, tmp_path_factory.mktemp("qstream") / "worker.log", "quota-1", 6, TEST_MODEL)
    yield worker
    stop_worker(worker)


@pytest.fixture(scope="module")
def api_pair(redis_client, tmp_path_factory):
    """Two gunicorn API processes with auth on and a short streaming lease."""
    logs = tmp_path_factory.mktemp("qapi")
    env = {"BUDGIE_AUTH": "on", "BUDGIE_STREAM_LEASE_S": str(LEASE_S), "BUDGIE_DEFAULT_MODEL": TEST_MODEL}
    with gunicorn_api(logs / "a.log", **env) as a, gunicorn_api(logs / "b.log", **env) as b:
        yield a.url, b.url


def test_requests_per_minute_are_counted_across_api_processes(api_pair, store):
    tenant = new_tenant()
    limited = store.create("limited", tenant=tenant, limits={"requests_per_minute": 5}).secret
    other = store.create("other", tenant=tenant).secret
    a, b = api_pair
    statuses = [requests.get(f"{base}{JOBS}", headers=bearer(limited), timeout=10) for base in (a, b, a, b, a)]
    assert [r.status_code for r in statuses] == [200] * 5
    assert statuses[-1].headers["X-RateLimit-Limit"] == "5" and statuses[-1].headers["X-RateLimit-Remaining"] == "0"

    refused = requests.get(f"{b}{JOBS}", headers=bearer(limited), timeout=10)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert requests.get(f"{a}/v1/models", headers=bearer(limited), timeout=10).status_code == 429  # every route
    assert requests.get(f"{b}{JOBS}", headers=bearer(other), timeout=10).status_code == 200  # per key
    assert requests.get(f"{a}/health", timeout=10).status_code == 200  # public routes are not counted


def test_active_jobs_per_tenant(auth_app, store, tmp_path):
    """Jobs on a model no test worker consumes stay in flight, so the count is deterministic."""
    client = auth_app.test_client()
    tenant = new_tenant()
    key = store.create("busy", tenant=tenant, limits={"max_active_jobs": 1}).secret
    wav = tone_wav(tmp_path / "tone.wav")

    def submit():
        with open(wav, "rb") as fh:
            return client.post(JOBS, data={"file": (fh, "t.wav"), "model": TEST_MODEL_FULL}, headers=bearer(key))

    first = submit()
    assert first.status_code == 201
    refused = submit()
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_active_jobs"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/v1/usage", headers=bearer(key)).get_json()["usage"]["active_jobs"] == 1

    assert client.delete(f"{JOBS}/{first.get_json()['id']}", headers=bearer(key)).status_code == 200  # cancelled
    again = submit()
    assert again.status_code == 201
    assert client.delete(f"{JOBS}/{again.get_json()['id']}", headers=bearer(key)).status_code == 200


def test_audio_seconds_per_day_per_tenant(auth_app, store, tmp_path):
    client = auth_app.test_client()
    tenant = new_tenant()
    key = store.create("a", tenant=tenant, limits={"audio_seconds_per_day": 2.5}).secret
    same_tenant = store.create("b", tenant=tenant).secret  # the quota is the tenant's, not the key's
    wav = tone_wav(tmp_path / "tone.wav", seconds=1.0)
    ids = []
    for secret, expected in ((key, 201), (key, 201), (key, 429)):
        with open(wav, "rb") as fh:
            response = client.post(JOBS, data={"file": (fh, "t.wav"), "model": TEST_MODEL_FULL}, headers=bearer(secret))
        assert response.status_code == expected, response.get_json()
        if expected == 201:
            ids.append(response.get_json()["id"])
    assert response.get_json()["error"]["code"] == "audio_quota_exceeded"
    assert 0 < int(response.headers["Retry-After"]) <= 86401
    usage = client.get("/v1/usage", headers=bearer(same_tenant)).get_json()
    assert usage["tenant"] == tenant and usage["usage"]["audio_seconds_today"] == pytest.approx(2.0, abs=0.05)
    assert usage["limits"]["audio_seconds_per_day"] == 86400.0  # b's own record has no override
    for job_id in ids:
        client.delete(f"{JOBS}/{job_id}", headers=bearer(key))


def open_session(base: str, secret: str) -> tuple[Client, dict]:
    ws = Client.connect(base.replace("http", "ws") + f"{STREAM}?model={TEST_MODEL}", headers=bearer(secret))
    try:
        return ws, json.loads(ws.receive(timeout=30))
    except ConnectionClosed:
        return ws, {}


def refused_code(base: str, secret: str) -> tuple[dict, int | None]:
    ws, first = open_session(base, secret)
    try:
        ws.receive(timeout=10)
    except ConnectionClosed:
        return first, ws.close_reason
    ws.close()
    return first, None


def test_concurrent_streams_per_tenant_across_processes_and_after_a_crash(api_pair, stream_worker, store, tmp_path):
    tenant = new_tenant()
    key = store.create("mic", tenant=tenant, scopes=["stream"], limits={"max_streams": 2}).secret
    a, b = api_pair
    env = {"BUDGIE_AUTH": "on", "BUDGIE_STREAM_LEASE_S": str(LEASE_S), "BUDGIE_DEFAULT_MODEL": TEST_MODEL}
    with gunicorn_api(tmp_path / "victim.log", **env) as victim:
        held = [open_session(victim.url, key), open_session(a, key)]
        assert [first.get("type") for _, first in held] == ["session.begin"] * 2, held

        first, code = refused_code(b, key)  # the third session, through another process
        assert (first.get("type"), first.get("code"), code) == ("error", "rate_limited", 4429)

        held[1][0].close()  # a clean close frees its slot (once the relay has seen it)
        third = wait_for(lambda: accepted(b, key), 15, interval=0.2, what="the closed session's slot")

        # both slots are taken again; the API process relaying one of them dies without closing anything
        os.killpg(victim.proc.pid, signal.SIGKILL)
        assert refused_code(a, key)[1] == 4429  # its lease is still live ...
        later = wait_for(lambda: accepted(a, key), LEASE_S + 15, interval=0.5, what="the dead relay's lease to lapse")
        later.close()
        third.close()


def accepted(base: str, secret: str) -> Client | None:
    ws, first = open_session(base, secret)
    if first.get("type") != "session.begin":
        try:
            ws.close()
        except ConnectionClosed:
            pass
        return None
    return ws
