"""One client's stream: what the socket thread hands to the scheduler and what comes back.

The socket thread only validates, resamples and queues (cheap, never blocks on inference); the
scheduler thread owns the model state, VAD and transcript; a per-session sender thread writes the
outbox to the socket, so a slow client can never stall the scheduler.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque

import numpy as np

from core.audio import SAMPLE_RATE
from core.logs import log_context
from core.protocol import ProtocolError, SessionParams, parse_control
from workers.streaming.decoding import decode_audio
from workers.streaming.utterance import Utterance

logger = logging.getLogger(__name__)

CLOSE = object()  # outbox marker: close the socket after everything before it was sent


class Session:
    """Per-session state shared by its socket thread, the scheduler and its sender thread."""

    def __init__(
        self,
        params: SessionParams,
        stepper,
        endpointer,
        detok,
        max_frame_bytes: int,
        languages: tuple[str, ...] = ("en",),
    ):
        self.id = "sess_" + uuid.uuid4().hex[:16]
        self.params = params
        self.languages = languages
        self.interim_results = params.interim_results
        self.word_timestamps = params.word_timestamps
        self.stepper = stepper
        self.state = stepper.new_state()
        self.endpointer = endpointer
        self.endpointing: tuple[str, ...] = ("vad",)  # what ends an utterance: the model's <EOU>, VAD, or both
        self.utterance = Utterance(detok, stepper.frame_s)
        self.max_frame_bytes = max_frame_bytes
        self.inbox: deque = deque()  # ("audio", samples, t_received) | ("flush"|"end"|"config", payload)
        self.outbox: queue.Queue = queue.Queue()
        self.refs: deque = deque()  # receive time of the frame that completed each ready chunk
        self.barrier: str | None = None  # "flush"/"end" being executed by the scheduler
        self.ended = False  # client sent end
        self.finished = False  # session.end queued
        self.failed = False
        self.samples_in = 0  # 16 kHz samples received
        self.samples_fed = 0  # 16 kHz samples given to the model (current model stream starts at stream_offset)
        self.stream_offset = 0  # 16 kHz samples before the current model stream (advances on flush)
        self.vad_submitted = 0  # audio pieces queued for the VAD thread (written by the scheduler only)
        self.vad_done = 0  # ... and processed (written by the VAD thread only)
        self.endpoints: deque = deque()  # VAD endpoint times (s) not yet reached by the decoder
        self.finals: list[dict] = []
        self.latencies: list[float] | None = None  # set by the scheduler to collect chunk latencies
        self.last_activity = time.monotonic()
        self.last_lag_warning = 0.0
        self._resampler = None
        if params.sample_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(params.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    # -- socket thread ---------------------------------------------------------------------------
    def on_binary(self, data: bytes) -> None:
        """Validate and queue one audio frame (raises ProtocolError)."""
        now = time.monotonic()
        self.last_activity = now
        if self.ended:
            raise ProtocolError("audio_after_end", 'audio received after {"type": "end"}; ignored')
        samples = decode_audio(data, self.params.encoding, self.max_frame_bytes)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        if samples.size:
            self.samples_in += samples.size
            self.inbox.append(("audio", np.ascontiguousarray(samples, dtype=np.float32), now))

    def on_text(self, text: str) -> dict:
        """Validate and queue one control message (raises ProtocolError); returns it."""
        self.last_activity = time.monotonic()
        msg = parse_control(text)
        if self.ended:
            raise ProtocolError("message_after_end", f"'{msg['type']}' received after end; ignored")
        if (
            msg["type"] == "config"
            and "language" in msg
            and msg["language"] not in ("auto", "")
            and msg["language"].lower().split("-")[0] not in self.languages
        ):
            raise ProtocolError(
                "language_not_supported", f"language '{msg['language']}' is not supported by {self.params.model}"
            )
        if msg["type"] in ("flush", "end") and self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=msg["type"] == "end")
            if tail.size:
                self.samples_in += tail.size
                self.inbox.append(("audio", tail.astype(np.float32), time.monotonic()))
        if msg["type"] == "end":
            self.ended = True
        self.inbox.append((msg["type"], msg, time.monotonic()))
        return msg

    # -- any thread ------------------------------------------------------------------------------
    def emit(self, msg: dict, t_ref: float | None = None) -> None:
        self.outbox.put((msg, t_ref))

    def close(self, code: int, reason: str = "") -> None:
        self.outbox.put((CLOSE, (code, reason)))

    def fail(self, error: ProtocolError) -> None:
        self.emit(error.to_message())
        if error.close_code is not None:
            self.failed = True
            self.close(error.close_code, error.message[:120])

    @property
    def vad_pending(self) -> int:
        return self.vad_submitted - self.vad_done

    @property
    def audio_seconds(self) -> float:
        return self.samples_in / SAMPLE_RATE

    def transcript(self) -> str:
        return " ".join(f["text"] for f in self.finals)


class Sender(threading.Thread):
    """Writes a session's outbox to its socket; records chunk latency when a message is sent."""

    def __init__(self, session: Session, ws, on_latency=None):
        super().__init__(name=f"send-{session.id}", daemon=True)
        self.session = session
        self.ws = ws
        self.on_latency = on_latency
        self.closed = threading.Event()
        self.close_code: int | None = None

    def run(self) -> None:
        with log_context(session_id=self.session.id):  # a new thread starts with no log context
            self._send_all()

    def _send_all(self) -> None:
        import json

        while True:
            item, extra = self.session.outbox.get()
            if item is None:
                break
            try:
                if item is CLOSE:
                    self.close_code = extra[0]
                    self.ws.close(reason=extra[0], message=extra[1])
                    wake = getattr(self.ws, "event", None)  # wake the socket thread's receive() now,
                    if wake is not None:  # so the session slot is freed at once, not at its next poll
                        wake.set()
                    break
                self.ws.send(json.dumps(item))
                if extra is not None and self.on_latency:
                    self.on_latency(time.monotonic() - extra)
            except Exception:  # the client went away: nothing more to send
                logger.info("session %s: socket closed while sending", self.session.id)
                break
        self.closed.set()

    def stop(self) -> None:
        self.session.outbox.put((None, None))
