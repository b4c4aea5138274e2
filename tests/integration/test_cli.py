"""The ``budgie`` CLI and ``budgie.client.Client`` end to end: real subprocesses of ``python3 -m budgie.cli``
against a live API, the real Celery worker and a real streaming worker, on the embedded trained model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest
import srt

from budgie.client import BudgieError, Client
from tests.conftest import ROOT, SHIPPED_MODEL, TEST_MODEL_FULL
from tests.live import serve
from tests.speech import synthesize

STREAM_WORKER_ID = "stream-cli-1"


@pytest.fixture(scope="module")
def base_url(redis_client, celery_worker):
    with serve(default_model=SHIPPED_MODEL) as url:
        yield url


@pytest.fixture(scope="module")
def stream_worker(redis_client, test_registry, tmp_path_factory):
    from budgie.localstack import free_port, start_stream_worker, stop_process, wait_until

    log = tmp_path_factory.mktemp("cli-stream") / "worker.log"
    env = {
        **os.environ,
        "WORKER_ID": STREAM_WORKER_ID,
        "WORKER_PORT": str(free_port()),
        "WORKER_HOST": "127.0.0.1",
        "MAX_SESSIONS": "2",
        "BUDGIE_STREAM_MODEL": SHIPPED_MODEL,
        "BUDGIE_HEARTBEAT_S": "1",
        "BUDGIE_TORCH_THREADS": "1",
    }
    proc = start_stream_worker(env, log)
    key = f"budgie-test:realtime:worker:{STREAM_WORKER_ID}"
    wait_until(lambda: redis_client.exists(key), proc, log, "the CLI test's streaming worker", timeout=180)
    # one session straight to the worker first: its first session is the slow one on a busy machine, and
    # the API relay gives a worker only 10 s to open a session before it answers no_capacity
    from budgie.client import StreamClient

    warm = StreamClient(f"ws://127.0.0.1:{env['WORKER_PORT']}/v1/audio/transcriptions/stream", timeout=120)
    warm.stream(np.zeros(16000, dtype=np.int16))
    assert warm.finish(timeout=120) == 1000
    yield proc
    stop_process(proc, timeout=20)


@pytest.fixture(scope="module")
def sentences(speech_dir) -> list[Path]:
    return [
        synthesize("the quick brown fox jumps over the lazy dog", speech_dir / "cli-fox.wav"),
        synthesize("a budgie is a small and friendly parrot", speech_dir / "cli-budgie.wav"),
    ]


class Ran:
    """What a CLI run left: exit code, stdout, stderr (as text)."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def in_process(base_url: str, *args: str) -> Ran:
    """The CLI through click's runner in this process (cheaper than a subprocess; same HTTP to the server)."""
    from click.testing import CliRunner

    from budgie.cli import cli

    result = CliRunner().invoke(cli, ["--server", base_url, *args], catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def budgie(base_url: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "budgie.cli", "--server", base_url, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=180,
    )


def test_transcribe_two_files_to_srt_concurrently(base_url, sentences, tmp_path):
    done = budgie(base_url, "transcribe", *map(str, sentences), "--format", "srt", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr.decode()
    progress = done.stderr.decode()
    for source in sentences:
        out = tmp_path / "out" / f"{source.stem}.srt"
        assert f"{source} -> {out}" in done.stdout.decode()
        cues = list(srt.parse(out.read_text()))
        expected = Client(base_url).transcribe(source)["text"]
        assert " ".join(" ".join(c.content.split()) for c in cues) == expected
        assert f"{source}" in progress and "completed" in progress and "100%" in progress
    assert "transcribe" in progress or "prepare" in progress  # the stage shows while it runs


def test_transcribe_writes_next_to_the_input_by_default(base_url, sentences, tmp_path):
    source = tmp_path / "copy.wav"
    source.write_bytes(sentences[0].read_bytes())
    done = budgie(base_url, "transcribe", str(source))
    assert done.returncode == 0, done.stderr.decode()
    assert source.with_suffix(".txt").read_text().strip() == Client(base_url).transcribe(source)["text"]


def test_usage_errors_exit_2_with_one_line(base_url, sentences, tmp_path):
    unknown = in_process(base_url, "transcribe", str(sentences[0]), "--model", "no-such-model")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1].startswith(f"budgie: {sentences[0]}: Unknown model")
    missing = in_process(base_url, "transcribe", str(tmp_path / "absent.wav"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    not_found = in_process(base_url, "jobs", "show", "job_doesnotexist")
    assert not_found.returncode == 2
    assert not_found.stderr.strip() == "Error: Job job_doesnotexist not found"
    unreachable = subprocess.run(
        [sys.executable, "-m", "budgie.cli", "models"],
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, "BUDGIE_URL": "http://127.0.0.1:9"},
        timeout=60,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.decode().strip() == "Error: cannot reach the Budgie server at http://127.0.0.1:9"


def test_jobs_list_show_cancel_delete(base_url, sentences):
    client = Client(base_url)
    # no worker consumes this model's transcribe queue, so the job stays unfinished until cancelled
    job_id = client.submit(sentences[1], model=TEST_MODEL_FULL)["id"]
    cancelled = in_process(base_url, "jobs", "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"{job_id} cancelled"
    assert client.job(job_id)["status"] == "cancelled"
    listed = in_process(base_url, "jobs", "list", "--status", "cancelled")
    assert listed.returncode == 0 and any(
        line.split()[:2] == [job_id, "cancelled"] for line in listed.stdout.splitlines()
    )
    again = in_process(base_url, "jobs", "cancel", job_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr
    deleted = in_process(base_url, "jobs", "delete", job_id)
    assert deleted.returncode == 0
    with pytest.raises(BudgieError) as err:
        client.job(job_id)
    assert err.value.status == 404


def test_models_lists_the_catalogue(base_url):
    done = in_process(base_url, "models")
    assert done.returncode == 0
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:]}
    assert rows[SHIPPED_MODEL] == "loaded"


def test_stream_a_file_and_raw_pcm_from_stdin(base_url, stream_worker, sentences):
    from core.audio import decode

    expected = Client(base_url).transcribe(sentences[0])["text"]
    from_file = budgie(base_url, "stream", str(sentences[0]), "--fast")
    assert from_file.returncode == 0, from_file.stderr.decode()
    finals = from_file.stdout.decode().splitlines()
    assert finals and "\x1b" not in from_file.stdout.decode()  # not a terminal: no in-place partials
    assert jiwer.wer(expected, " ".join(finals)) <= 0.3  # streaming chunks differ a little from batch

    pcm = (np.clip(decode(sentences[0]), -1, 1) * 32767).astype("<i2").tobytes()
    from_stdin = budgie(base_url, "stream", "-", "--fast", stdin=pcm)
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    assert from_stdin.stdout.decode().splitlines() == finals


def test_client_stream_yields_partials_then_finals_then_session_end(base_url, stream_worker, sentences):
    messages = list(Client(base_url).stream(sentences[1], realtime=0))
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "session.begin" and kinds[-1] == "session.end"
    assert "transcript.final" in kinds
    finals = [m["text"] for m in messages if m["type"] == "transcript.final"]
    assert messages[-1]["transcript"] == " ".join(finals)


def test_api_key_reaches_http_and_the_websocket_as_bearer(redis_client, stream_worker, sentences):
    key = "admin-" + "k" * 30
    with serve(auth=True, admin_key=key, default_model=SHIPPED_MODEL) as url:
        refused = in_process(url, "models")
        assert refused.returncode == 1 and refused.stderr.startswith("Error: ")
        assert len(refused.stderr.strip().splitlines()) == 1
        listed = in_process(url, "--api-key", key, "models")
        assert listed.returncode == 0 and SHIPPED_MODEL in listed.stdout
        with pytest.raises(BudgieError):
            list(Client(url).stream(sentences[1], realtime=0))
        messages = list(Client(url, api_key=key).stream(sentences[1], realtime=0))
        assert messages[-1]["type"] == "session.end" and messages[-1]["transcript"]
