"""Run Budgie's processes on this machine: a real Celery worker, a real streaming worker and the API
on free loopback ports. Used by ``budgie-demo``, the benchmarks and the tests (no Docker, no GPU),
so all of them start workers exactly the way production does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from budgie.client import Client
from core.settings import child_environment, get_settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_celery_worker(queues: str, name: str, env: dict, log_path: Path, loglevel: str = "INFO") -> subprocess.Popen:
    """``celery worker`` as deployed: solo pool, one process, the given queues (models load at start)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "-Q",
            queues,
            "--pool",
            "solo",
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            loglevel,
        ],
        env=env,
        cwd=ROOT,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
    )


def start_stream_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """``budgie-stream-worker`` (gunicorn gthread) in its own process group, configured by ``env``."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers.streaming.server"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(ready, proc: subprocess.Popen, log_path: Path, what: str, timeout: float = 300) -> None:
    """Poll ``ready()`` until true; fail fast, with the log tail, if the process exits first."""
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited:\n{Path(log_path).read_text()[-3000:]}")
        if time.time() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout}s; see {log_path}")
        time.sleep(0.25)


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (workers save and deregister), then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if os.getpgid(proc.pid) == proc.pid:  # its own group (gunicorn + its workers): kill them all
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()


class LocalStack:
    """``with LocalStack(["parakeet-tiny-en"]) as stack: stack.transcribe(path, model=...)``"""

    def __init__(self, models: list[str], redis_url: str, extra_queues: str = "prepare,align,merge"):
        self.models = models
        self.data_dir = Path(tempfile.mkdtemp(prefix="budgie-local-"))
        prefix = f"budgie-local-{os.getpid()}"
        # a throwaway stack on loopback for one user: no API keys (BUDGIE_AUTH=off, see docs/security.md)
        self.settings = get_settings().replace(
            redis_url=redis_url, data_dir=self.data_dir, key_prefix=prefix, auth=False
        )
        self.env = child_environment(REDIS_URL=redis_url, BUDGIE_DATA_DIR=str(self.data_dir), BUDGIE_KEY_PREFIX=prefix)
        self.queues = ",".join([extra_queues] + [f"transcribe.{m}" for m in models])
        self.log_path = self.data_dir / "worker.log"
        self.base = ""

    def __enter__(self) -> LocalStack:
        import logging

        from werkzeug.serving import make_server

        from app import create_app

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
        self.worker = start_celery_worker(self.queues, f"budgie-local-{os.getpid()}", self.env, self.log_path)
        port = free_port()
        self.server = make_server("127.0.0.1", port, create_app(self.settings), threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{port}"
        try:
            for model in self.models:
                self.wait_loaded(model)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        stop_process(self.worker)

    def wait_loaded(self, model: str, timeout: float = 600) -> None:
        wait_until(
            lambda: Client(self.base, timeout=5).model(model).get("loaded"),
            self.worker,
            self.log_path,
            f"the worker loading {model}",
            timeout,
        )

    def transcribe(self, audio: Path, poll_s: float = 0.05, **form) -> dict:
        """Submit ``audio`` and poll until the job ends (whatever its status); adds ``wall_seconds``
        (submit start -> completion seen)."""
        client = Client(self.base, timeout=300)
        started = time.perf_counter()
        created = client.submit(audio, **form)
        job = client.wait(created["id"], poll_s=poll_s)
        job["wall_seconds"] = round(time.perf_counter() - started, 3)
        return job
