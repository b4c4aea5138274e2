"""Signed webhooks on a live stack with auth on: a receiver started by the test gets the event from the
real Celery worker (its ``webhooks`` queue), the signature verifies with the key's secret, failures are
retried with backoff (tiny in tests) and every attempt is recorded on the job; unsafe URLs are refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import webhooks
from core.apikeys import ApiKeyStore
from tests.apiserver import tone_wav
from tests.conftest import TEST_MODEL, TEST_MODEL_FULL, test_settings, wait_for

PREFIX = "budgie-test"
JOBS = "/v1/audio/transcriptions"


class Receiver:
    """A local HTTP endpoint answering each POST with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append({"headers": dict(self.headers), "body": body, "answered": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture()
def receiver():
    made = []

    def make(statuses=None) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture()
def key(redis_client):
    return ApiKeyStore(redis_client, PREFIX).create("hooks", tenant="hooks")


def make_client(**changes):
    from app import create_app

    settings = test_settings(**{"auth": True, "default_model": TEST_MODEL, **changes})
    return create_app(settings, testing=True).test_client()


def submit(client, secret: str, wav, **form):
    with open(wav, "rb") as fh:
        return client.post(JOBS, data={"file": (fh, "tone.wav"), **form}, headers={"Authorization": f"Bearer {secret}"})


def job_of(client, secret: str, job_id: str) -> dict:
    return client.get(f"{JOBS}/{job_id}", headers={"Authorization": f"Bearer {secret}"}).get_json()


def test_a_completed_job_posts_a_signed_event(celery_worker, key, receiver, tmp_path):
    hook = receiver()
    client = make_client(allow_private_urls=True)
    created = submit(client, key.secret, tone_wav(tmp_path / "t.wav"), webhook_url=hook.url)
    assert created.status_code == 201, created.get_json()
    job_id = created.get_json()["id"]
    wait_for(lambda: hook.received, 120, what="the webhook")
    delivery = hook.received[0]
    body, headers = delivery["body"], delivery["headers"]

    secret = key.key["webhook_secret"]
    assert webhooks.verify(secret, headers[webhooks.HEADER], body)
    assert not webhooks.verify(secret, headers[webhooks.HEADER], body.replace(b"completed", b"failed"))
    assert not webhooks.verify("whsec_someone-else", headers[webhooks.HEADER], body)
    event = json.loads(body)
    assert event["type"] == "job.completed" == headers["Budgie-Event"]
    assert event["id"] == headers["Budgie-Delivery"]
    assert event["data"]["id"] == job_id and event["data"]["status"] == "completed"
    assert event["data"]["model"] == TEST_MODEL and event["data"]["duration"] == pytest.approx(1.0, abs=0.05)
    assert event["data"]["result_url"].endswith(f"{JOBS}/{job_id}")

    job = wait_for(lambda: (j := job_of(client, key.secret, job_id))["webhook"]["delivered"] and j, 30, what="record")
    assert [a["status_code"] for a in job["webhook"]["attempts"]] == [200]
    assert "webhook_secret" not in json.dumps(job)


def test_a_failing_receiver_gets_retries_until_one_success(celery_worker, key, receiver, tmp_path):
    hook = receiver([500, 500, 200, 200])
    client = make_client(allow_private_urls=True)
    job_id = submit(client, key.secret, tone_wav(tmp_path / "t.wav"), webhook_url=hook.url).get_json()["id"]
    job = wait_for(
        lambda: (j := job_of(client, key.secret, job_id))["webhook"]["delivered"] and j, 120, what="delivery"
    )
    assert [d["answered"] for d in hook.received] == [500, 500, 200]  # exactly one success, then no more
    assert len({d["headers"]["Budgie-Delivery"] for d in hook.received}) == 1  # one event, three attempts
    attempts = job["webhook"]["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert attempts[0]["error"] == "the server answered HTTP 500" and attempts[2]["error"] is None
    assert attempts[0]["at"] <= attempts[1]["at"] <= attempts[2]["at"]


def test_a_cancelled_job_posts_job_cancelled(celery_worker, key, receiver, tmp_path):
    """On a model no test worker transcribes, so the job is still in flight when cancelled."""
    hook = receiver()
    client = make_client(allow_private_urls=True)
    wav = tone_wav(tmp_path / "t.wav")
    job_id = submit(client, key.secret, wav, webhook_url=hook.url, model=TEST_MODEL_FULL).get_json()["id"]
    cancel = client.delete(f"{JOBS}/{job_id}", headers={"Authorization": f"Bearer {key.secret}"})
    assert cancel.status_code == 200
    wait_for(lambda: hook.received, 60, what="the cancel webhook")
    event = json.loads(hook.received[0]["body"])
    assert event["type"] == "job.cancelled" and event["data"]["error"]["code"] == "cancelled"


def test_unsafe_webhook_urls_are_refused_at_submit(redis_client, key, receiver, tmp_path):
    wav = tone_wav(tmp_path / "t.wav")
    strict = make_client()  # the default: private targets refused
    for url, reason in (
        (receiver().url, "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("ftp://example.com/hook", "only http and https"),
    ):
        refused = submit(strict, key.secret, wav, webhook_url=url)
        assert refused.status_code == 400
        assert (
            refused.get_json()["error"]["code"] == "invalid_webhook_url"
            and reason in refused.get_json()["error"]["message"]
        )

    # auth off and no BUDGIE_WEBHOOK_SECRET: nothing to sign with, so refused too
    open_client = make_client(allow_private_urls=True, auth=False)
    unsigned = submit(open_client, "", wav, webhook_url=receiver().url)
    assert unsigned.status_code == 400 and "signing secret" in unsigned.get_json()["error"]["message"]
