"""Run the whole batch stack on this machine: a real Celery worker subprocess and the API on a
free loopback port. Used by ``budgie-demo`` and the benchmarks (no Docker, no GPU)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("completed", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
    """``with LocalStack(["parakeet-tiny-en"]) as stack: stack.transcribe(path, model=...)``"""

    def __init__(self, models: list[str], redis_url: str, extra_queues: str = "prepare,align,merge"):
        self.models = models
        self.data_dir = Path(tempfile.mkdtemp(prefix="budgie-local-"))
        self.env = {**os.environ, "REDIS_URL": redis_url, "BUDGIE_DATA_DIR": str(self.data_dir),
                    "BUDGIE_KEY_PREFIX": f"budgie-local-{os.getpid()}"}
        self.queues = ",".join([extra_queues] + [f"transcribe.{m}" for m in models])
        self.log_path = self.data_dir / "worker.log"
        self.base = ""

    def __enter__(self) -> "LocalStack":
        import logging

        from werkzeug.serving import make_server

        from app import create_app

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
        os.environ.update(self.env)  # the in-process API and the worker must agree
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", self.queues,
             "--pool", "solo", "-c", "1", "-n", f"budgie-local-{os.getpid()}@%h", "--without-gossip",
             "--without-mingle"],
            env=self.env, cwd=ROOT, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
        )
        port = free_port()
        self.server = make_server("127.0.0.1", port, create_app(), threaded=True)
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
        self.worker.terminate()
        try:
            self.worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.worker.kill()

    def wait_loaded(self, model: str, timeout: float = 600) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log_path.read_text()[-2000:]}")
            if requests.get(f"{self.base}/v1/models/{model}", timeout=5).json().get("loaded"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"the worker did not load {model} within {timeout}s; see {self.log_path}")

    def transcribe(self, audio: Path, poll_s: float = 0.05, **form) -> dict:
        """POST ``audio``, poll until the job ends; adds ``wall_seconds`` (POST start -> completion seen)."""
        started = time.perf_counter()
        with open(audio, "rb") as fh:
            created = requests.post(f"{self.base}/v1/audio/transcriptions", files={"file": (Path(audio).name, fh)},
                                    data=form, timeout=300)
        if created.status_code != 201:
            raise RuntimeError(f"submit failed: {created.status_code} {created.text}")
        url = f"{self.base}/v1/audio/transcriptions/{created.json()['id']}"
        while (job := requests.get(url, timeout=30).json())["status"] not in TERMINAL:
            time.sleep(poll_s)
        job["wall_seconds"] = round(time.perf_counter() - started, 3)
        return job
