"""One client's stream: what the socket thread hands to the scheduler and what comes back.

The socket thread only validates, resamples and queues (cheap, never blocks on inference); the
scheduler thread owns the model state, VAD and transcript; a per-session sender thread writes the
outbox to the socket, so a slow client can never stall the scheduler.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

import numpy as np

from core.audio import SAMPLE_RATE
from core.logs import log_context
from core.protocol import CLOSE_BAD_AUDIO, ProtocolError, SessionParams, parse_control
from workers.streaming.containers import ContainerDecoder
from workers.streaming.decoding import check_frame_size, decode_audio
from workers.streaming.utterance import Utterance

logger = logging.getLogger(__name__)

CLOSE = object()  # outbox marker: close the socket after everything before it was sent
PIECE = SAMPLE_RATE // 2  # audio is queued in pieces of at most 0.5 s, so the scheduler can take it bit by bit


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
        max_outbox: int = 0,
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
        self.inbox: deque = deque()  # ("audio", samples, t) | ("flush"|"end"|"config"|"clear", payload, t)
        self.inbox_lock = threading.Lock()  # producers (socket and decoder threads) and clear
        self.outbox: queue.Queue = queue.Queue(max_outbox)  # bounded: a client that never reads is dropped
        self.on_overflow: Callable[[], None] | None = (
            None  # set by the server: drop the connection when the outbox is full
        )
        self.overflowed = False
        self.drained = threading.Event()  # set by the scheduler whenever it took audio from the inbox
        self.samples_queued = 0  # 16 kHz samples put in the inbox (socket/decoder thread)
        self.samples_taken = 0  # ... and taken out by the scheduler or dropped by clear
        self.refs: deque = deque()  # receive time of the frame that completed each ready chunk
        self.barrier: str | None = None  # "flush"/"end" being executed by the scheduler
        self.ended = False  # client sent end
        self.finished = False  # session.end queued
        self.failed = False
        self.samples_in = 0  # 16 kHz samples received
        self.samples_fed = 0  # 16 kHz samples given to the model (current model stream starts at stream_offset)
        self.stream_offset = 0  # 16 kHz samples before the current model stream (advances on flush and clear)
        self.vad_submitted = 0  # audio pieces queued for the VAD thread (written by the scheduler only)
        self.vad_done = 0  # ... and processed (written by the VAD thread only)
        self.endpoints: deque = deque()  # VAD endpoint times (s) not yet reached by the decoder
        self.finals: list[dict] = []
        self.latencies: list[float] | None = None  # set by the scheduler to collect chunk latencies
        self.last_activity = time.monotonic()
        self.last_lag_warning = 0.0
        self.max_lag_s: float | None = None  # close past this lag (set by the server from settings and params)
        self.utterance_end_ms = params.utterance_end_ms
        self.last_word_end: float | None = None  # session time of the last token, until utterance_end is sent
        self._resampler = None
        self._container: ContainerDecoder | None = None
        if params.container:
            self._container = ContainerDecoder(
                params.encoding, self._queue_audio, self._decode_failed, f"decode-{self.id}"
            )
            self._container.start()
        elif params.sample_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(params.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    # -- socket thread ---------------------------------------------------------------------------
    def on_binary(self, data: bytes) -> None:
        """Validate and queue one audio frame (raises ProtocolError)."""
        now = time.monotonic()
        self.last_activity = now
        if self.ended:
            raise ProtocolError("audio_after_end", 'audio received after {"type": "end"}; ignored')
        if self._container is not None:
            check_frame_size(data, self.max_frame_bytes)
            if not self._container.failed:
                self._container.feed(data)
            return
        samples = decode_audio(data, self.params.encoding, self.max_frame_bytes)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._queue_audio(samples, now)

    def _queue_audio(self, samples: np.ndarray, t_received: float) -> None:
        """Queue 16 kHz float32 samples for the scheduler (socket thread, or the container decoder thread)."""
        if not samples.size:
            return
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        with self.inbox_lock:
            self.samples_in += samples.size
            self.samples_queued += samples.size
            for i in range(0, samples.size, PIECE):
                self.inbox.append(("audio", samples[i : i + PIECE], t_received))

    def _decode_failed(self, message: str) -> None:
        self.fail(ProtocolError("invalid_audio", message, CLOSE_BAD_AUDIO))

    @property
    def backlog_s(self) -> float:
        """Seconds of received audio the scheduler has not taken yet."""
        return (self.samples_queued - self.samples_taken) / SAMPLE_RATE

    def on_text(self, text: str) -> dict:
        """Validate and queue one control message (raises ProtocolError); returns it."""
        self.last_activity = time.monotonic()
        msg = parse_control(text)
        if msg["type"] == "keepalive":  # only keeps the session from timing out, even after end
            return msg
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
        if msg["type"] == "clear":
            return self._clear(msg)
        if msg["type"] in ("flush", "end") and self._container is not None:
            if msg["type"] == "end":  # everything fed so far is decoded before the barrier is queued
                self._container.finish()
            else:
                self._container.settle()
        if msg["type"] in ("flush", "end") and self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=msg["type"] == "end")
            self._queue_audio(tail, time.monotonic())
        if msg["type"] == "end":
            self.ended = True
        with self.inbox_lock:
            self.inbox.append((msg["type"], msg, time.monotonic()))
        return msg

    def _clear(self, msg: dict) -> dict:
        """Drop the audio the scheduler has not taken yet; it tells the client how much was discarded."""
        with self.inbox_lock:
            kept: deque = deque()
            dropped = 0
            while self.inbox:
                item = self.inbox.popleft()
                if item[0] == "audio":
                    dropped += item[1].size
                else:
                    kept.append(item)
            self.samples_taken += dropped
            kept.append(("clear", dropped, time.monotonic()))
            self.inbox.extend(kept)
        self.drained.set()
        return msg

    # -- any thread ------------------------------------------------------------------------------
    def emit(self, msg: dict, t_ref: float | None = None) -> None:
        self._put((msg, t_ref))

    def close(self, code: int, reason: str = "") -> None:
        self._put((CLOSE, (code, reason)))

    def _put(self, item) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(item)
        except queue.Full:  # the client stopped reading: nothing more can reach it, drop the connection
            self.overflowed = self.failed = True
            logger.warning(
                "session %s: %d messages unsent, client is not reading; dropping it", self.id, self.outbox.qsize()
            )
            if self.on_overflow is not None:
                self.on_overflow()

    def stop_decoder(self) -> None:
        if self._container is not None:
            self._container.stop()

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
        try:
            self.session.outbox.put_nowait((None, None))
        except queue.Full:  # blocked on a client that does not read: unblock it
            self.abort()

    def abort(self) -> None:
        """Drop the connection without a close frame (the socket cannot take one): unblocks every thread on it."""
        sock = getattr(self.ws, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        wake = getattr(self.ws, "event", None)
        if wake is not None:
            wake.set()
