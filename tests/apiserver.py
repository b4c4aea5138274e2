"""Real API servers for tests that need a socket (WebSocket handshakes) or several API processes
(shared rate-limit counters, revocation seen everywhere): werkzeug in a thread, or gunicorn as deployed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import soundfile as sf

from budgie.localstack import ROOT, free_port, stop_process, wait_until


@contextmanager
def threaded_server(app) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in this process; yield its base URL."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@dataclass(frozen=True)
class ApiProcess:
    url: str
    proc: subprocess.Popen
    """gunicorn's arbiter, leader of its own process group (its worker is in the same group)."""


@contextmanager
def gunicorn_api(log_path: Path, **env: str) -> Iterator[ApiProcess]:
    """``gunicorn 'app:create_app()'`` (one worker) with this process's environment plus ``env``."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "--graceful-timeout"]
    command += ["2", "-b", f"127.0.0.1:{port}", "app:create_app()"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/health", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or the worker is still importing the app
            return False

    try:
        wait_until(up, proc, log_path, "gunicorn API", timeout=60)
        yield ApiProcess(base, proc)
    finally:
        stop_process(proc, timeout=10)


def tone_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A short 440 Hz tone (valid audio for submit; the words do not matter to these tests)."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path
