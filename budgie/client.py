"""Budgie's Python client: ``Client(url, api_key=None)`` for batch jobs and streaming, and the
lower-level ``StreamClient`` for the WebSocket protocol. The ``budgie`` CLI, the benchmarks and the
tests use these instead of hand-rolled HTTP.

    from budgie.client import Client
    client = Client("http://localhost:8000")
    job = client.transcribe("talk.mp3", model="parakeet")       # submit, wait, raise JobFailed if it failed
    print(job["text"]); print(client.export(job["id"], "srt"))
    for message in client.stream("talk.mp3", realtime=1.0):    # partials and finals as they arrive
        print(message["type"], message.get("text"))
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import requests
import websocket

TERMINAL = ("completed", "failed", "cancelled")
STREAM_PATH = "/v1/audio/transcriptions/stream"
SAMPLE_RATE = 16000


class BudgieError(Exception):
    """A request Budgie refused or could not serve: the server's message, its HTTP status and error code."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class JobFailed(BudgieError):
    """The job ended failed or cancelled (``job`` is its last state)."""

    def __init__(self, job: dict[str, Any]):
        super().__init__(
            f"job {job['id']} {job['status']}: {job.get('error') or 'no error recorded'}", code="job_failed"
        )
        self.job = job


class Client:
    """Talk to a running Budgie server (``url`` and ``api_key`` default to ``BUDGIE_URL``/``BUDGIE_API_KEY``)."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 60):
        from core.settings import get_settings

        settings = get_settings()
        self.url = (url or settings.server_url).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.api_key
        self.timeout = timeout
        self.session = requests.Session()
        if self.api_key:
            self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    # ------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, f"{self.url}{path}", **kwargs)
        except requests.ConnectionError as exc:
            raise BudgieError(f"cannot reach the Budgie server at {self.url}") from exc
        except requests.Timeout as exc:
            raise BudgieError(f"the Budgie server at {self.url} did not answer in {kwargs['timeout']}s") from exc
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message, code = error["message"], error.get("code")
            except (ValueError, KeyError, TypeError):
                message, code = response.text.strip()[:200] or response.reason, None
            raise BudgieError(message, response.status_code, code)
        return response

    # ------------------------------------------------------------ batch jobs
    def submit(
        self, path: str | os.PathLike[str], model: str | None = None, diarize: bool = False, **form: Any
    ) -> dict[str, Any]:
        """Upload ``path`` as a new job (``form``: the other fields of ``POST /v1/audio/transcriptions``)."""
        data = {k: str(v) for k, v in form.items() if v is not None}
        if model:
            data["model"] = model
        if diarize:
            data["speaker_detection"] = "diarize"
        with open(path, "rb") as fh:
            files = {"file": (Path(path).name, fh)}
            return self._request("POST", "/v1/audio/transcriptions", files=files, data=data, timeout=None).json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/audio/transcriptions/{job_id}").json()

    def jobs(self, limit: int = 20, status: str | None = None, cursor: float | None = None) -> dict[str, Any]:
        """One page of jobs, newest first: ``{"jobs", "has_more", "cursor"}``."""
        params = {k: v for k, v in {"limit": limit, "status": status, "cursor": cursor}.items() if v is not None}
        return self._request("GET", "/v1/audio/transcriptions", params=params).json()

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll_s: float = 0.25,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends (returned, whatever its status); ``on_progress(job)`` sees every poll."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise BudgieError(f"job {job_id} is still {job['status']} after {timeout}s", code="timeout")
            time.sleep(poll_s)

    def transcribe(
        self,
        path: str | os.PathLike[str],
        model: str | None = None,
        diarize: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        **form: Any,
    ) -> dict[str, Any]:
        """Submit ``path`` and wait: the completed job (text, segments, words); raises :class:`JobFailed`."""
        created = self.submit(path, model=model, diarize=diarize, **form)
        job = self.wait(created["id"], timeout=timeout, on_progress=on_progress)
        if job["status"] != "completed":
            raise JobFailed(job)
        return job

    def export(self, job_id: str, fmt: str = "txt", **options: Any) -> str:
        """A completed job as ``txt``, ``json``, ``srt`` or ``vtt`` (``options``: the subtitle rules)."""
        return self._request("GET", f"/v1/audio/transcriptions/{job_id}/export/{fmt}", params=options).text

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a pending or running job (a finished job is left alone: an error says so)."""
        job = self.job(job_id)
        if job["status"] in TERMINAL:
            raise BudgieError(f"job {job_id} is already {job['status']}", 409, "conflict")
        response = self._request("DELETE", f"/v1/audio/transcriptions/{job_id}")
        return response.json() if response.status_code == 200 else self.job(job_id)

    def delete(self, job_id: str) -> None:
        """Delete a job and its files (a running job is cancelled first)."""
        if self._request("DELETE", f"/v1/audio/transcriptions/{job_id}").status_code == 200:
            self._request("DELETE", f"/v1/audio/transcriptions/{job_id}")

    def models(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/models").json()["data"]

    def model(self, model_id: str) -> dict[str, Any]:
        """One model (an alias resolves), with ``loaded`` and ``state``."""
        return self._request("GET", f"/v1/models/{model_id}").json()

    # ------------------------------------------------------------ streaming
    def stream_url(self, **query: Any) -> str:
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items() if v is not None}
        base = "ws" + self.url[len("http") :] if self.url.startswith("http") else self.url
        return f"{base}{STREAM_PATH}" + (f"?{urlencode(params)}" if params else "")

    def stream(
        self,
        audio: str | os.PathLike[str] | np.ndarray | Iterable[bytes],
        model: str | None = None,
        realtime: float = 1.0,
        sample_rate: int = SAMPLE_RATE,
        frame_ms: int = 100,
        timeout: float = 60,
        encoding: str | None = None,
        **query: Any,
    ) -> Iterator[dict[str, Any]]:
        """Stream audio over the WebSocket and yield the server's messages as they arrive, ending with
        ``session.end``. ``audio`` is a file (decoded to 16 kHz mono), samples (int16 or float32 at
        ``sample_rate``), or raw ``pcm_s16le`` byte chunks at ``sample_rate`` (e.g. from a pipe).
        ``realtime`` paces sending (1.0 = as fast as it is spoken; 0 = as fast as possible).
        ``encoding`` (any of ``budgie.encode.ENCODINGS``): a file or 16 kHz samples are encoded so on the
        client (μ-law/A-law at 8 kHz, Opus in WebM/Ogg as a browser would send it); byte chunks are sent
        as they are, declared as that encoding."""
        if isinstance(audio, (str, os.PathLike)):
            from core.audio import decode

            audio, sample_rate = decode(Path(audio)), SAMPLE_RATE
        frame_s: float | None = None  # pacing per frame (encoded audio); None: by bytes
        frames: Iterable[bytes]
        if encoding in RAW_ALIASES:
            encoding = RAW_ALIASES[encoding]
        if encoding and encoding not in ("pcm_s16le", "pcm_f32le") and isinstance(audio, np.ndarray):
            from budgie.encode import frames as encode_frames
            from budgie.encode import wire_rate

            if sample_rate != SAMPLE_RATE:
                raise BudgieError(f"--encoding {encoding} encodes 16 kHz audio; got {sample_rate} Hz samples")
            samples16 = audio.astype(np.float32) / (32768.0 if audio.dtype == np.int16 else 1.0)
            frames = encode_frames(samples16, encoding, frame_ms)
            frame_s, bytes_per_second = frame_ms / 1000, 0
            sample_rate = wire_rate(encoding)
        elif encoding and encoding not in ("pcm_s16le", "pcm_f32le"):  # raw bytes already in that encoding
            frames = audio
            bytes_per_second = {"mulaw": 1, "alaw": 1}.get(encoding, 0) * sample_rate  # 0: containers, unpaced
        elif isinstance(audio, np.ndarray):
            encoding = "pcm_f32le" if audio.dtype == np.float32 else "pcm_s16le"
            samples = audio if audio.dtype == np.float32 else audio.astype(np.int16, copy=False)
            step = max(1, sample_rate * frame_ms // 1000)
            frames = (samples[i : i + step].tobytes() for i in range(0, len(samples), step))
            bytes_per_second = sample_rate * samples.dtype.itemsize
        else:
            encoding, frames, bytes_per_second = encoding or "pcm_s16le", audio, sample_rate * 2
        if encoding in ("webm", "ogg"):
            sample_rate = None  # type: ignore[assignment]  # the container states its rate
        headers = [f"Authorization: Bearer {self.api_key}"] if self.api_key else None
        url = self.stream_url(model=model, sample_rate=sample_rate, encoding=encoding, **query)
        try:
            client = StreamClient(url, timeout=timeout, headers=headers)
        except (OSError, websocket.WebSocketException) as exc:
            raise BudgieError(f"cannot open a stream at {url.split('?')[0]}: {exc}") from exc
        seen = 0
        try:
            start, sent = time.monotonic(), 0
            for count, frame in enumerate(frames, 1):
                if client.closed:
                    break
                client.send_audio(frame)
                sent += len(frame)
                client.poll()
                yield from client.messages[seen:]
                seen = len(client.messages)
                spoken = count * frame_s if frame_s else (sent / bytes_per_second if bytes_per_second else 0.0)
                if realtime and spoken:
                    delay = start + spoken / realtime - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            if not client.closed:
                client.send_json({"type": "end"})
            deadline = time.monotonic() + timeout
            while not client.closed and time.monotonic() < deadline:
                client._recv_one(max(0.01, deadline - time.monotonic()))
                yield from client.messages[seen:]
                seen = len(client.messages)
            if not client.of_type("session.end"):
                error = next((m for m in reversed(client.messages) if m.get("type") == "error"), None)
                if error:
                    raise BudgieError(error["message"], code=error.get("code"))
                raise BudgieError(f"the stream ended without session.end (close code {client.close_code})")
        finally:
            client.close()


RAW_ALIASES = {"linear16": "pcm_s16le"}


class StreamClient:
    """Send audio/control frames; collect server messages until the close frame (code kept)."""

    def __init__(self, url: str, timeout: float = 30, headers: list[str] | None = None, **options):
        """``options`` go to ``websocket.create_connection`` (``sockopt``, ``subprotocols``...)."""
        self.ws = websocket.create_connection(url, timeout=timeout, enable_multithread=True, header=headers, **options)
        self.messages: list[dict] = []
        self.close_code: int | None = None
        self.received_at: list[float] = []

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def _recv_one(self, timeout: float | None) -> bool:
        """Read one frame; False on timeout or when the connection is over."""
        if self.closed:
            return False
        self.ws.settimeout(timeout)
        try:
            op, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return False
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            self.close_code = self.close_code or 1006
            return False
        if op == websocket.ABNF.OPCODE_CLOSE:
            self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            return False
        if op == websocket.ABNF.OPCODE_TEXT:
            self.messages.append(json.loads(data))
            self.received_at.append(time.monotonic())
        return True

    def poll(self) -> None:
        while self._recv_one(0.0005):
            pass

    def wait_for(self, predicate, timeout: float = 30) -> dict | None:
        """Read until a message satisfies ``predicate`` (returned) or the socket closes."""
        deadline = time.monotonic() + timeout
        for msg in self.messages:
            if predicate(msg):
                return msg
        while time.monotonic() < deadline and not self.closed:
            before = len(self.messages)
            self._recv_one(max(0.01, deadline - time.monotonic()))
            for msg in self.messages[before:]:
                if predicate(msg):
                    return msg
        return None

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m.get("type") == kind]

    def send_audio(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def send_json(self, msg) -> None:
        self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    def stream(self, pcm: np.ndarray, chunk: int = 1600, realtime: float = 0.0) -> None:
        """Send int16/float32 samples in ``chunk``-sample frames (``realtime`` = pacing factor, 0 = fast)."""
        start = time.monotonic()
        for i in range(0, len(pcm), chunk):
            self.send_audio(pcm[i : i + chunk].tobytes())
            self.poll()
            if realtime:
                target = start + (i + chunk) / 16000 / realtime
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def stream_as(self, audio: np.ndarray, encoding: str, frame_ms: int = 100, realtime: float = 0.0) -> None:
        """Send 16 kHz mono float32 ``audio`` encoded as ``encoding`` (any of ``budgie.encode.ENCODINGS``;
        open the session with the same ``encoding=`` query parameter), ``frame_ms`` per frame,
        ``realtime`` = pacing factor (0 = as fast as the socket takes it)."""
        from budgie.encode import frames

        start = time.monotonic()
        for i, frame in enumerate(frames(audio, encoding, frame_ms)):
            self.send_audio(frame)
            self.poll()
            if realtime:
                delay = start + (i + 1) * frame_ms / 1000 / realtime - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def finish(self, timeout: float = 60) -> int | None:
        """Send end and read until the server closes; return the close code."""
        self.send_json({"type": "end"})
        return self.drain(timeout)

    def drain(self, timeout: float = 60) -> int | None:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._recv_one(max(0.01, deadline - time.monotonic()))
        return self.close_code

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
