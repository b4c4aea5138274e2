"""API keys, scopes and tenant isolation on a live stack with auth on: real Redis, the real Celery
worker, WebSocket handshakes against a real server, gunicorn API processes and the ``budgie keys`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from simple_websocket import Client, ConnectionClosed

from budgie.localstack import ROOT
from core.apikeys import ApiKeyStore
from tests.apiserver import gunicorn_api, threaded_server, tone_wav
from tests.conftest import TEST_MODEL, test_settings, wait_for

PREFIX = "budgie-test"
ADMIN_KEY = "admin-" + "x" * 30
JOBS = "/v1/audio/transcriptions"


@pytest.fixture()
def auth_app(redis_client):
    from app import create_app

    return create_app(test_settings(auth=True, admin_key=ADMIN_KEY, default_model=TEST_MODEL), testing=True)


@pytest.fixture()
def store(redis_client) -> ApiKeyStore:
    return ApiKeyStore(redis_client, PREFIX)


def stored_text(client, pattern: str = f"{PREFIX}:*") -> str:
    """Every value Redis holds under ``pattern``, as one string (to check what is stored in clear)."""
    values = []
    for key in client.scan_iter(pattern):
        kind = client.type(key)
        values.append(client.hgetall(key) if kind == "hash" else client.get(key) if kind == "string" else kind)
    return json.dumps(values)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def submit(client, secret: str, wav) -> dict:
    with open(wav, "rb") as fh:
        response = client.post(JOBS, data={"file": (fh, "tone.wav")}, headers=bearer(secret))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_missing_bad_and_revoked_keys_get_401_with_a_bearer_challenge(auth_app, store):
    client = auth_app.test_client()
    missing = client.get(JOBS)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.get_json()["error"]["code"] == "unauthorized"

    bad = client.get(JOBS, headers=bearer("bgk_not-a-real-key"))
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert client.get(JOBS, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401

    created = store.create("ci", tenant="acme")
    assert client.get(JOBS, headers=bearer(created.secret)).status_code == 200
    store.revoke(created.key["id"])
    revoked = client.get(JOBS, headers=bearer(created.secret))
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "unauthorized"

    # public routes stay open; the admin key from the environment works without being stored
    assert client.get("/health").status_code == 200
    assert client.get(JOBS, headers=bearer(ADMIN_KEY)).status_code == 200
    assert ADMIN_KEY not in stored_text(store.r)


def test_a_key_without_the_scope_gets_403(auth_app, store, tmp_path):
    client = auth_app.test_client()
    reader = store.create("reader", tenant="acme", scopes=["jobs:read"]).secret
    writer = store.create("writer", tenant="acme", scopes=["jobs:write"]).secret
    wav = tone_wav(tmp_path / "tone.wav")
    with open(wav, "rb") as fh:
        refused = client.post(JOBS, data={"file": (fh, "tone.wav")}, headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == {"code": "forbidden", "message": "This API key lacks the 'jobs:write' scope"}
    assert client.get(JOBS, headers=bearer(reader)).status_code == 200
    assert client.get(JOBS, headers=bearer(writer)).status_code == 403
    assert client.get("/v1/models", headers=bearer(reader)).status_code == 200  # any valid key


def test_another_tenants_job_is_indistinguishable_from_a_missing_one(auth_app, store, celery_worker, tmp_path):
    client = auth_app.test_client()
    alice = store.create("alice", tenant="tenant-a").secret
    alice_2 = store.create("alice-ci", tenant="tenant-a").secret
    bob = store.create("bob", tenant="tenant-b").secret
    wav = tone_wav(tmp_path / "tone.wav")
    done = submit(client, alice, wav)["id"]
    wait_for(
        lambda: client.get(f"{JOBS}/{done}", headers=bearer(alice)).get_json()["status"] == "completed",
        120,
        what="alice's job to complete",
    )
    job = client.get(f"{JOBS}/{done}", headers=bearer(alice)).get_json()
    assert job["tenant"] == "tenant-a" and job["key_id"].startswith("key_")

    missing = client.get(f"{JOBS}/job_0000000000000000", headers=bearer(bob))
    for response in (
        client.get(f"{JOBS}/{done}", headers=bearer(bob)),
        client.get(f"{JOBS}/{done}/export/srt", headers=bearer(bob)),
        client.delete(f"{JOBS}/{done}", headers=bearer(bob)),
    ):
        assert response.status_code == 404 == missing.status_code
        assert response.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "not_found"
        assert response.get_json()["error"]["message"] == f"Job {done} not found"
    assert done not in [j["id"] for j in client.get(JOBS, headers=bearer(bob)).get_json()["jobs"]]

    # same tenant, another key: visible; an admin sees every tenant's jobs
    assert client.get(f"{JOBS}/{done}/export/txt", headers=bearer(alice_2)).status_code == 200
    assert done in [j["id"] for j in client.get(JOBS, headers=bearer(alice_2)).get_json()["jobs"]]
    assert done in [
        j["id"] for j in client.get(f"{JOBS}?tenant=tenant-a", headers=bearer(ADMIN_KEY)).get_json()["jobs"]
    ]
    assert done not in [j["id"] for j in client.get(f"{JOBS}?tenant=x", headers=bearer(ADMIN_KEY)).get_json()["jobs"]]

    # bob cannot cancel a running/pending job of alice either; alice still can
    pending = submit(client, alice, wav)["id"]
    assert client.delete(f"{JOBS}/{pending}", headers=bearer(bob)).status_code == 404
    assert client.get(f"{JOBS}/{pending}", headers=bearer(alice)).status_code == 200
    assert client.delete(f"{JOBS}/{pending}", headers=bearer(alice)).status_code in (200, 204)
    assert client.delete(f"{JOBS}/{done}", headers=bearer(alice)).status_code == 204


def _ws_outcome(url: str, **options) -> tuple[dict, int | None, Client | None]:
    """Open a WebSocket, read the first message; return (message, close code or None, client)."""
    ws = Client.connect(url, **options)
    try:
        first = json.loads(ws.receive(timeout=10))
    except ConnectionClosed:
        return {}, ws.close_reason, ws
    try:
        ws.receive(timeout=10)
    except ConnectionClosed:
        return first, ws.close_reason, ws
    return first, None, ws


def test_websocket_checks_the_key_before_relaying(auth_app, store):
    stream_key = store.create("mic", tenant="acme", scopes=["stream"]).secret
    batch_key = store.create("batch", tenant="acme", scopes=["jobs:read", "jobs:write"]).secret
    with threaded_server(auth_app) as base:
        url = base.replace("http", "ws") + f"{JOBS}/stream?model={TEST_MODEL}"
        message, code, _ = _ws_outcome(url)
        assert (message["type"], message["code"], code) == ("error", "unauthorized", 4401)
        message, code, _ = _ws_outcome(f"{url}&api_key=bgk_wrong")
        assert (message["code"], code) == ("unauthorized", 4401)
        message, code, _ = _ws_outcome(url, headers=bearer(batch_key))
        assert (message["code"], code) == ("forbidden", 4403)

        # accepted three ways; no streaming worker serves the model here, so the relay answers model_not_served
        for options, query in (
            ({"headers": bearer(stream_key)}, ""),
            ({}, f"&api_key={stream_key}"),
            ({"subprotocols": ["budgie", f"budgie.key.{stream_key}"]}, ""),
            ({"subprotocols": ["budgie", stream_key]}, ""),
        ):
            message, code, ws = _ws_outcome(url + query, **options)
            assert (message["code"], code) == ("model_not_served", 4404), options or query
        assert ws.subprotocol == "budgie"  # echoed; the secret itself never is

        store.revoke(store.authenticate(stream_key)["id"])
        message, code, _ = _ws_outcome(url, headers=bearer(stream_key))
        assert (message["code"], code) == ("unauthorized", 4401)  # revoked: refused at once


@pytest.fixture(scope="module")
def two_api_processes(redis_client, tmp_path_factory):
    """Two gunicorn API processes with auth on, sharing the test Redis."""
    logs = tmp_path_factory.mktemp("gunicorn")
    env = {"BUDGIE_AUTH": "on", "BUDGIE_ADMIN_KEY": ADMIN_KEY, "BUDGIE_RATE_LIMIT_PER_MINUTE": "1000"}
    with gunicorn_api(logs / "a.log", **env) as a, gunicorn_api(logs / "b.log", **env) as b:
        yield a.url, b.url


def budgie_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "budgie.cli", "keys", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_cli_keys_and_revocation_seen_at_once_by_every_api_process(two_api_processes, redis_client):
    created = budgie_cli("create", "--name", "ops", "--tenant", "cli-t", "--scopes", "jobs:read", "--json")
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    secret, key_id = record["secret"], record["id"]
    assert record["scopes"] == ["jobs:read"] and record["webhook_secret"].startswith("whsec_")

    # only the digest is stored: the secret appears nowhere in Redis
    dump = stored_text(redis_client)
    assert key_id in dump and secret not in dump

    listed = budgie_cli("list", "--tenant", "cli-t", "--json")
    assert [k["id"] for k in json.loads(listed.stdout)] == [key_id]
    assert secret not in listed.stdout and "webhook_secret" not in listed.stdout

    for base in two_api_processes:
        assert requests.get(f"{base}{JOBS}", headers=bearer(secret), timeout=10).status_code == 200
    revoked = budgie_cli("revoke", key_id)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
    for base in two_api_processes:
        response = requests.get(f"{base}{JOBS}", headers=bearer(secret), timeout=10)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert budgie_cli("revoke", "key_nope").returncode == 1
    bad = budgie_cli("create", "--name", "x", "--scopes", "jobs:everything")
    assert bad.returncode == 2 and "unknown scope" in bad.stderr


def test_the_openai_sdk_works_with_a_key_and_gets_openai_shaped_401s(auth_app, store, celery_worker, tmp_path):
    import openai

    key = store.create("sdk", tenant="sdk-t").secret
    reader = store.create("sdk-reader", tenant="sdk-t", scopes=["jobs:read"]).secret
    wav = tone_wav(tmp_path / "tone.wav")
    with threaded_server(auth_app) as base:

        def sdk(api_key: str) -> openai.OpenAI:
            return openai.OpenAI(base_url=f"{base}/openai/v1", api_key=api_key, max_retries=0, timeout=120)

        assert TEST_MODEL in [m.id for m in sdk(key).models.list()]
        with open(wav, "rb") as fh:
            result = sdk(key).audio.transcriptions.with_raw_response.create(model=TEST_MODEL, file=fh)
        job_id = result.headers["x-budgie-job-id"]
        assert isinstance(result.parse().text, str)
        native = requests.get(f"{base}{JOBS}/{job_id}", headers=bearer(key), timeout=10).json()
        assert native["tenant"] == "sdk-t" and native["status"] == "completed"

        with pytest.raises(openai.AuthenticationError) as denied:
            sdk("bgk_wrong").models.list()
        assert denied.value.status_code == 401
        assert denied.value.body["type"] == "authentication_error" and denied.value.body["code"] == "unauthorized"
        with open(wav, "rb") as fh, pytest.raises(openai.PermissionDeniedError):
            sdk(reader).audio.transcriptions.create(model=TEST_MODEL, file=fh)
