"""A small blocking WebSocket client for the streaming protocol (tests, benchmark, smoke checks).

Needs websocket-client (the dev extra); the worker itself never imports this module.
"""

from __future__ import annotations

import json
import time

import numpy as np
import websocket


class StreamClient:
    """Send audio/control frames; collect server messages until the close frame (code kept)."""

    def __init__(self, url: str, timeout: float = 30):
        self.ws = websocket.create_connection(url, timeout=timeout, enable_multithread=True)
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
