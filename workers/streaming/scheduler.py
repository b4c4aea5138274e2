"""The single inference thread: each tick, drain every session's audio, then step all sessions
that have a full chunk in one batched forward pass (one per phase), then emit partials, finals
and endpoints. Socket threads only enqueue, so inference never blocks another session's reads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque

from core import metrics
from core.logs import log_context
from core.protocol import CLOSE_INTERNAL, CLOSE_LAG, CLOSE_NORMAL, ProtocolError, error_message
from workers.streaming import vad
from workers.streaming.session import SAMPLE_RATE, Session

logger = logging.getLogger(__name__)

LAG_WARN_S = 3.0  # default: audio waiting longer than this triggers a processing_lag warning (at most 1/s)
DRAIN_AHEAD = 2  # featurize at most this many chunks ahead of the model per session and tick


class Stats:
    """Rolling chunk latencies (received -> message sent) and compute totals, for /stats and the bench."""

    def __init__(self, keep: int = 20000, model_id: str = ""):
        self.chunk_latency = metrics.STREAM_CHUNK_SECONDS.labels(model_id)
        self.latencies: deque = deque(maxlen=keep)
        self.waits: deque = deque(maxlen=keep)  # chunk complete -> its batch step starts
        self.step_times: deque = deque(maxlen=keep)
        self.steps = 0
        self.batched_sessions = 0
        self.compute_s = 0.0
        self.audio_s = 0.0
        self.lock = threading.Lock()

    def latency(self, seconds: float) -> None:
        self.chunk_latency.observe(seconds)
        with self.lock:
            self.latencies.append(seconds)

    def snapshot(self) -> dict:
        with self.lock:
            lat, waits, steps = sorted(self.latencies), sorted(self.waits), sorted(self.step_times)

        def pick(values, q):
            return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 1) if values else None

        return {
            "chunks": len(lat),
            "p50_ms": pick(lat, 0.5),
            "p95_ms": pick(lat, 0.95),
            "max_ms": pick(lat, 1.0),
            "wait_p50_ms": pick(waits, 0.5),
            "wait_p95_ms": pick(waits, 0.95),
            "step_p50_ms": pick(steps, 0.5),
            "step_p95_ms": pick(steps, 0.95),
            "steps": self.steps,
            "mean_batch": round(self.batched_sessions / self.steps, 2) if self.steps else None,
            "compute_s": round(self.compute_s, 3),
            "audio_s": round(self.audio_s, 3),
            "rtf": round(self.compute_s / self.audio_s, 4) if self.audio_s else None,
        }

    def reset(self) -> None:
        with self.lock:
            self.latencies.clear()
            self.waits.clear()
            self.step_times.clear()
            self.steps = self.batched_sessions = 0
            self.compute_s = self.audio_s = 0.0


class VadThread(threading.Thread):
    """Runs all sessions' Silero endpointers, batched, off the inference thread (VAD only decides
    finals, so it must not add to partial latency); the scheduler commits at the times it reports."""

    def __init__(self, wake):
        super().__init__(name="stream-vad", daemon=True)
        self.queue: queue.Queue = queue.Queue()
        self.wake = wake

    def submit(self, s: Session, audio) -> None:
        """``audio``: samples to score, or an int: that many samples were skipped (clear)."""
        s.vad_submitted += 1
        self.queue.put((s, audio))

    def run(self) -> None:
        while True:
            items = [self.queue.get()]
            while not self.queue.empty():
                items.append(self.queue.get_nowait())
            if any(s is None for s, _ in items):
                return
            sessions: dict[str, Session] = {}
            for s, audio in items:
                if s.failed or s.finished:  # gone or over: its audio is not worth scoring
                    continue
                if isinstance(audio, int):
                    s.endpointer.skip(audio)
                else:
                    s.endpointer.feed(audio)
                sessions[s.id] = s
            live = [s for s in sessions.values() if not s.finished and not s.failed]
            try:
                for s, events in zip(live, vad.score([s.endpointer for s in live]), strict=False):
                    for ev in events:  # VAD times count from the session start
                        s.emit({"type": f"vad.{ev.kind}", "timestamp": round(ev.time, 3)})
                        if ev.kind == "speech_end":
                            s.endpoints.append(ev.detected_at)
            except Exception:
                logger.exception("VAD failed for %d session(s)", len(live))
            finally:
                for s, _ in items:
                    s.vad_done += 1
                self.wake()

    def stop(self) -> None:
        self.queue.put((None, None))


class Scheduler(threading.Thread):
    """Owns all model state; the only thread that runs NeMo."""

    def __init__(
        self,
        stepper,
        max_batch: int = 32,
        max_utterance_s: float = 30.0,
        model_id: str = "",
        lag_warn_s: float = LAG_WARN_S,
    ):
        super().__init__(name="stream-scheduler", daemon=True)
        self.lag = metrics.STREAM_LAG.labels(model_id)
        self.step_seconds = metrics.STREAM_STEP_SECONDS.labels(model_id)
        self.audio_seconds = metrics.STREAM_AUDIO.labels(model_id)
        self.stepper = stepper
        self.max_batch = max_batch
        self.max_utterance_s = max_utterance_s
        self.lag_warn_s = lag_warn_s
        self.sessions: dict[str, Session] = {}
        self.cond = threading.Condition()
        self.running = True
        self.stats = Stats(model_id=model_id)
        self.vad = VadThread(self.notify)

    def start(self) -> None:
        self.vad.start()
        super().start()

    def add(self, session: Session) -> None:
        with self.cond:
            self.sessions[session.id] = session
            self.cond.notify()

    def remove(self, session: Session) -> None:
        with self.cond:
            self.sessions.pop(session.id, None)
        session.failed = session.failed or not session.finished  # the VAD thread skips what it still holds

    def notify(self) -> None:
        with self.cond:
            self.cond.notify()

    def stop(self) -> None:
        self.running = False
        self.vad.stop()
        self.notify()

    def run(self) -> None:
        while self.running:
            with self.cond:
                if not any(
                    (s.inbox and not s.barrier and self._pending(s) < DRAIN_AHEAD)
                    or (s.barrier and not s.vad_pending)
                    or self._ready(s)
                    for s in self.sessions.values()
                    if not s.failed
                ):
                    self.cond.wait(timeout=0.05)
                sessions = list(self.sessions.values())
            try:
                self.tick(sessions)
            except Exception:  # never let one bad tick kill the worker's only inference thread
                logger.exception("scheduler tick failed")
                time.sleep(0.01)

    # -- one tick --------------------------------------------------------------------------------
    def tick(self, sessions: list[Session]) -> None:
        for s in sessions:
            self._guard(s, self._drain, s)
        steppers = {id(s.stepper): s.stepper for s in sessions}  # sessions that picked the same context
        for phase in (True, False):
            # readiness is re-checked per phase: a session that just took its first chunk is in the
            # steady phase now and may step again only if another FULL chunk is waiting (stepping a
            # partial chunk as if it were full drops its lookahead frames and changes the transcript)
            for key in steppers:
                group = [
                    s for s in sessions if id(s.stepper) == key and self._ready(s) and (s.state.step == 0) == phase
                ]
                for i in range(0, len(group), self.max_batch):
                    self._step(group[i : i + self.max_batch])
        now = time.monotonic()
        for s in sessions:
            if not s.finished and not s.failed:
                self._guard(s, self._after_step, s)
                self._guard(s, self._check_lag, s, now)
        self.lag.set(max((now - s.refs[0] for s in sessions if s.refs), default=0.0))

    def _ready(self, s: Session) -> bool:
        return not s.finished and not s.failed and s.stepper.ready(s.state)

    def _guard(self, s: Session, fn, *args) -> None:
        try:
            with log_context(session_id=s.id):
                fn(*args)
        except Exception:
            logger.exception("session %s failed", s.id, extra={"session_id": s.id})
            self._fail(s)

    def _fail(self, s: Session) -> None:
        if not s.failed:
            s.failed = True
            s.emit(error_message("internal_error", "the streaming worker failed to process this session"))
            s.close(CLOSE_INTERNAL, "internal error")

    def _drain(self, s: Session) -> None:
        """Feed queued audio to VAD and features, in order, up to the next flush/end barrier, and at most
        DRAIN_AHEAD chunks ahead of the model: a session's work per tick is bounded however fast it sends."""
        if s.failed:
            return
        while s.inbox and s.barrier is None:
            kind, payload, t = s.inbox[0]
            if kind == "audio" and self._pending(s) >= DRAIN_AHEAD:
                break
            s.inbox.popleft()
            if kind == "audio":
                s.samples_taken += payload.size
                before = self._pending(s)
                s.stepper.add_audio(s.state, payload)
                s.samples_fed += payload.size
                s.utterance.limit_s = (s.stream_offset + s.samples_fed) / SAMPLE_RATE
                s.refs.extend([t] * (self._pending(s) - before))
                self.vad.submit(s, payload)
            elif kind == "config":
                s.interim_results = payload.get("interim_results", s.interim_results)
                s.word_timestamps = payload.get("word_timestamps", s.word_timestamps)
                s.utterance_end_ms = payload.get("utterance_end_ms", s.utterance_end_ms)
                s.endpointer.configure(payload.get("vad_threshold"), payload.get("vad_silence_ms"))
            elif kind == "clear":
                self._clear(s, payload)
            else:
                s.barrier = kind
        s.drained.set()

    def _clear(self, s: Session, dropped: int) -> None:
        """Discard audio not yet decoded: ``dropped`` samples the socket thread took out of the inbox plus
        the features waiting for a chunk. Words already decoded become a final; the model stream restarts
        where the received audio ends, so later word times stay on the session clock."""
        decoded = round(s.state.frames_out * s.stepper.frame_s * SAMPLE_RATE)
        unstepped = max(0, s.samples_fed - decoded)
        self._commit(s, end_reason="clear")
        s.stream_offset += s.samples_fed + dropped
        s.samples_fed = 0
        s.state = s.stepper.new_state()
        s.utterance.offset_s = s.stream_offset / SAMPLE_RATE
        s.refs.clear()
        s.endpoints.clear()
        s.last_word_end = None
        if dropped:
            self.vad.submit(s, dropped)
        s.emit(
            {
                "type": "audio.cleared",
                "discarded_seconds": round((dropped + unstepped) / SAMPLE_RATE, 3),
                "timestamp": round(s.stream_offset / SAMPLE_RATE, 3),
            }
        )

    def _check_lag(self, s: Session, now: float) -> None:
        """Warn (at most once a second) when audio has waited over lag_warn_s; close past the session's max_lag_s."""
        oldest = s.refs[0] if s.refs else None
        if oldest is None and s.inbox:
            head = s.inbox[0]
            oldest = head[2] if head[0] == "audio" else None
        lag = now - oldest if oldest is not None else 0.0
        limit = s.max_lag_s
        if limit is not None and lag > limit:
            s.fail(
                ProtocolError(
                    "processing_lag",
                    f"the worker is {lag:.1f}s behind this session (limit {limit:g}s); send audio no faster "
                    "than real time or use the batch API",
                    CLOSE_LAG,
                )
            )
        elif lag > self.lag_warn_s and now - s.last_lag_warning >= 1.0:
            s.last_lag_warning = now
            s.emit(
                {
                    "type": "warning",
                    "code": "processing_lag",
                    "lag_seconds": round(lag, 2),
                    "message": "the worker is behind real time for this session",
                }
            )

    def _pending(self, s: Session) -> int:
        return s.stepper.pending_steps(s.state)

    def _step(self, group: list[Session]) -> None:
        t0 = time.perf_counter()
        start = time.monotonic()
        try:
            outputs = group[0].stepper.step([s.state for s in group])
        except Exception:
            logger.exception("batched step of %d sessions failed", len(group))
            if len(group) > 1:  # isolate the culprit: one broken session must not fail the others
                for s in group:
                    self._step([s])
            else:
                self._fail(group[0])
            return
        elapsed = time.perf_counter() - t0
        with self.stats.lock:
            self.stats.step_times.append(elapsed)
            self.stats.waits.extend(start - s.refs[0] for s in group if s.refs)
        self.stats.steps += 1
        self.stats.batched_sessions += len(group)
        self.stats.compute_s += elapsed
        chunk_s = group[0].stepper.chunk_ms / 1000  # the context these sessions picked
        self.stats.audio_s += len(group) * chunk_s
        self.step_seconds.observe(elapsed)
        self.audio_seconds.inc(len(group) * chunk_s)
        for s, out in zip(group, outputs, strict=False):
            t_ref = s.refs.popleft() if s.refs else None
            self._add_tokens(s, out)
            self._commit_at_eou(s)
            msg = s.utterance.partial() if s.interim_results else None
            if msg is not None:
                s.emit(msg, t_ref)
            elif t_ref is not None:
                self.stats.latency(time.monotonic() - t_ref)

    def _add_tokens(self, s: Session, out) -> None:
        if s.utterance.add(out.token_ids, out.frames):
            s.last_word_end = s.utterance.offset_s + (out.frames[-1] + 1) * s.stepper.frame_s

    def _decoded_s(self, s: Session) -> float:
        return s.stream_offset / SAMPLE_RATE + s.state.frames_out * s.stepper.frame_s

    def _after_step(self, s: Session) -> None:
        """Endpoints, the utterance cap, and flush/end once every full chunk before them is decoded."""
        decoded = self._decoded_s(s)
        while s.endpoints and decoded >= s.endpoints[0]:
            self._commit_at_vad(s, s.endpoints.popleft())
        start = s.utterance.start_s()
        if start is not None and decoded - start >= self.max_utterance_s:
            self._commit(s, end_reason="max_length")
        if (
            s.utterance_end_ms
            and s.last_word_end is not None
            and decoded - s.last_word_end >= s.utterance_end_ms / 1000
        ):
            s.emit(
                {"type": "utterance_end", "last_word_end": round(s.last_word_end, 3), "timestamp": round(decoded, 3)}
            )
            s.last_word_end = None
        if s.barrier and not self._ready(s) and not s.vad_pending:
            self._finish_stream(s)

    def _commit_at_eou(self, s: Session) -> None:
        """Model-driven endpointing: each <EOU> the model emitted ends the utterance before it."""
        while (cut := s.utterance.eou_index()) is not None:
            if "eou" in s.endpointing:
                self._commit(s, end_reason="eou", cut=cut)
            else:  # endpointing by VAD only: the token is dropped, the utterance goes on
                s.utterance.ids.pop(cut)
                s.utterance.frames.pop(cut)

    def _commit_at_vad(self, s: Session, until_s: float) -> None:
        if "vad" in s.endpointing:
            self._commit(s, until_s, end_reason="vad")

    def _commit(
        self, s: Session, until_s: float | None = None, end_reason: str = "end", cut: int | None = None
    ) -> None:
        msg = s.utterance.commit(s.word_timestamps, until_s, end_reason, cut)
        if msg is not None:
            s.finals.append(msg)
            s.emit(msg)

    def _finish_stream(self, s: Session) -> None:
        """Decode the tail exactly like the offline model's end of audio, then finalize."""
        s.stepper.finish_audio(s.state)
        while s.stepper.ready(s.state):
            self._step([s])
        out = s.stepper.step([s.state], last=True)[0]
        self._add_tokens(s, out)
        self._commit_at_eou(s)
        s.refs.clear()
        while s.endpoints:
            self._commit_at_vad(s, s.endpoints.popleft())
        self._commit(s, end_reason=s.barrier or "end")
        if s.barrier == "end":
            s.finished = True
            s.emit(
                {
                    "type": "session.end",
                    "session_id": s.id,
                    "total_audio_seconds": round(s.audio_seconds, 3),
                    "transcript": s.transcript(),
                    "segments": [{"start": f["start"], "end": f["end"], "text": f["text"]} for f in s.finals],
                }
            )
            s.close(CLOSE_NORMAL, "session ended")
        else:  # flush: start a fresh model stream where this one stopped
            s.stream_offset += s.samples_fed
            s.samples_fed = 0
            s.state = s.stepper.new_state()
            s.utterance.offset_s = s.stream_offset / SAMPLE_RATE
        s.barrier = None


def endpointing(entry, configured: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What ends this model's utterances: the operator's choice (BUDGIE_STREAM_ENDPOINTING) or the
    registry's; ``eou`` only for a model with an end-of-utterance token, and never nothing."""
    wanted = tuple(configured) or tuple(entry.endpointing)
    chosen = tuple(e for e in wanted if e != "eou" or entry.eou_token)
    return chosen or ("vad",)
