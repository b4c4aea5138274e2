"""The streaming worker process: load the models once, serve sessions over flask-sock, heartbeat.

``main()`` runs the app under gunicorn's ``gthread`` worker (one process so the model is loaded
once; one thread per open socket). Inference happens on one scheduler thread per model.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from core import logs, metrics
from core.catalog import registry
from core.heartbeat import Heartbeat
from core.keys import Keys
from core.logs import log_context
from core.protocol import CLOSE_BAD_PARAMS, CLOSE_IDLE, CLOSE_NO_CAPACITY, ProtocolError, error_message, parse_params
from core.settings import Settings, get_settings
from registry import ModelEntry
from workers.engines.wordtimes import Detokenizer
from workers.streaming import vad
from workers.streaming.scheduler import Scheduler, endpointing
from workers.streaming.session import Sender, Session

logger = logging.getLogger(__name__)

STREAM_PATH = "/v1/audio/transcriptions/stream"
sock = Sock()


class StreamWorker:
    """Models, schedulers, session slots and the Redis registration of one worker process."""

    def __init__(self, config: Settings, steppers: dict | None = None):
        from workers.streaming.engine import build_steppers

        self.config = config
        if config.torch_threads:
            import torch

            torch.set_num_threads(config.torch_threads)
        self.registry = registry()
        self.schedulers: dict[str, Scheduler] = {}
        self.detoks: dict[str, Detokenizer] = {}
        # per model: one stepper per trained attention context a session may pick with ?chunk_ms=
        self.steppers: dict[str, dict[int, Any]] = {}
        self.entries: dict[str, ModelEntry] = {}
        for model_id in config.stream_model:
            entry = self.registry.resolve(model_id)
            given = (steppers or {}).get(entry.id)
            by_chunk = {given.chunk_ms: given} if given is not None else build_steppers(entry, config)
            stepper = next(iter(by_chunk.values()))
            self.steppers[entry.id] = by_chunk
            self.entries[entry.id] = entry
            self.schedulers[entry.id] = Scheduler(
                stepper,
                config.stream_max_batch,
                config.max_utterance_s,
                model_id=entry.id,
                lag_warn_s=config.stream_lag_warn_s,
            )
            self.detoks[entry.id] = Detokenizer(stepper.model.tokenizer, entry.timestamp_shift_s)
            metrics.MODEL_LOADED.labels(entry.id).set(1)
            metrics.STREAM_SESSIONS.labels(entry.id).set(0)  # the series exists before the first session
        self.vad_model = vad.load_model()  # shared: sessions keep their own state and are scored in batches
        self.active = 0
        self.draining = False
        self._lock = threading.Lock()
        self.registration = Heartbeat(
            config.redis_url,
            Keys(config.key_prefix).realtime_worker(config.worker_id),
            self.identity,
            config.heartbeat_s,
            config.registry_ttl_s,
        )

    def start(self) -> None:
        for sched in self.schedulers.values():
            sched.start()
        self.registration.start()

    def shutdown(self) -> None:
        self.draining = True
        self.registration.stop(unregister=True)
        for sched in self.schedulers.values():
            sched.stop()

    def identity(self) -> dict:
        with self._lock:
            active = self.active
        status = "draining" if self.draining else ("busy" if active >= self.config.max_sessions else "ready")
        return {
            "worker_id": self.config.worker_id,
            "status": status,
            "endpoint": f"ws://{self.config.worker_advertise_host}:{self.config.worker_port}",
            "capacity": self.config.max_sessions,
            "active_sessions": active,
            "models": sorted(self.schedulers),
            "modes": {m: s.stepper.mode for m, s in self.schedulers.items()},
            "chunk_ms": {m: s.stepper.chunk_ms for m, s in self.schedulers.items()},
            "chunk_ms_options": {m: sorted(options) for m, options in self.steppers.items()},
        }

    def acquire(self) -> bool:
        with self._lock:
            if self.draining or self.active >= self.config.max_sessions:
                return False
            self.active += 1
        self._publish()
        return True

    def release(self) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)
        self._publish()

    def _publish(self) -> None:
        try:  # routing sees the new count now rather than at the next beat
            self.registration.beat()
        except Exception as exc:  # Redis trouble must not break a session
            logger.warning("could not publish session count: %s", exc)

    # -- one WebSocket session -------------------------------------------------------------------
    def handle(self, ws, args) -> None:
        paced = _pace_input(ws, self.config.stream_max_backlog_s)
        try:
            params, entry = parse_params(args, self.registry, self.config.stream_model[0])
            if entry.id not in self.schedulers:
                raise ProtocolError(
                    "model_not_served",
                    f"this worker serves {', '.join(self.schedulers)}, not {entry.id}",
                    CLOSE_BAD_PARAMS,
                )
            stepper = self._stepper(entry.id, params.chunk_ms)
        except ProtocolError as exc:
            metrics.STREAM_SESSIONS_REJECTED.labels(exc.code).inc()
            return _reject(ws, exc.to_message(), exc.close_code, exc.message)
        if not self.acquire():
            metrics.STREAM_SESSIONS_REJECTED.labels("no_capacity").inc()
            return _reject(
                ws,
                error_message(
                    "no_capacity",
                    f"all {self.config.max_sessions} session slots of worker {self.config.worker_id} are in use",
                ),
                CLOSE_NO_CAPACITY,
                "no capacity",
            )
        sched = self.schedulers[entry.id]
        session = sender = None
        metrics.STREAM_SESSIONS.labels(entry.id).inc()
        metrics.STREAM_SESSIONS_STARTED.labels(entry.id).inc()
        try:
            threshold = params.vad_threshold if params.vad_threshold is not None else self.config.vad_threshold
            silence_ms = params.vad_silence_ms if params.vad_silence_ms is not None else self.config.vad_silence_ms
            endpointer = vad.Endpointer(self.vad_model, threshold, silence_ms)
            session = Session(
                params,
                stepper,
                endpointer,
                self.detoks[entry.id],
                self.config.max_frame_bytes,
                entry.languages,
                max_outbox=self.config.stream_max_outbox,
            )
            session.endpointing = endpointing(entry, self.config.stream_endpointing)
            session.utterance.eou_id = self.detoks[entry.id].token_id(entry.eou_token)
            limits = [v for v in (self.config.stream_max_lag_s, params.max_lag_s) if v]  # 0/None: no limit
            session.max_lag_s = min(limits) if limits else None
            _limit_send_buffer(ws, self.config.stream_send_buffer_bytes)
            if paced is not None:
                paced.session = session
            sender = Sender(session, ws, sched.stats.latency)
            session.on_overflow = sender.abort
            sender.start()
            session.emit(
                {
                    "type": "session.begin",
                    "session_id": session.id,
                    "model": entry.id,
                    "sample_rate": params.sample_rate,
                    "encoding": params.encoding,
                    "chunk_ms": stepper.chunk_ms,
                    "mode": stepper.mode,
                    "endpointing": list(session.endpointing),
                    "language": params.language,
                    "interim_results": params.interim_results,
                    "word_timestamps": params.word_timestamps,
                    "vad_threshold": threshold,
                    "vad_silence_ms": silence_ms,
                    "utterance_end_ms": params.utterance_end_ms,
                    "max_lag_s": session.max_lag_s,
                    "worker_id": self.config.worker_id,
                }
            )
            sched.add(session)
            with log_context(session_id=session.id):
                self._loop(ws, session, sender, sched)
        except ConnectionClosed:
            pass
        finally:
            metrics.STREAM_SESSIONS.labels(entry.id).dec()
            if session is not None:
                sched.remove(session)
                session.stop_decoder()
            if sender is not None:
                sender.stop()
                sender.join(timeout=5)
            self.release()
            if session is not None:
                with log_context(session_id=session.id):
                    logger.info("session %s closed after %.1fs of audio", session.id, session.audio_seconds)

    def _stepper(self, model_id: str, chunk_ms: int | None):
        """The stepper of the attention context a session asked for (the model's default if none)."""
        options = self.steppers[model_id]
        if chunk_ms is None:
            return self.schedulers[model_id].stepper
        if chunk_ms not in options:
            raise ProtocolError(
                "invalid_parameters",
                f"this worker streams {model_id} with chunk_ms {', '.join(map(str, sorted(options)))}, not {chunk_ms}",
                CLOSE_BAD_PARAMS,
            )
        return options[chunk_ms]

    def _loop(self, ws, session: Session, sender: Sender, sched: Scheduler) -> None:
        while not sender.closed.is_set():
            data = ws.receive(timeout=0.5)
            if data is None:
                if not ws.connected:
                    return
                if not session.ended and time.monotonic() - session.last_activity > self.config.stream_idle_s:
                    session.fail(
                        ProtocolError("session_timeout", f"no data for {self.config.stream_idle_s:.0f}s", CLOSE_IDLE)
                    )
                    sender.closed.wait(5)
                    return
                continue
            try:
                if isinstance(data, (bytes, bytearray)):
                    session.on_binary(bytes(data))
                else:
                    session.on_text(data)
            except ProtocolError as exc:
                session.fail(exc)
            sched.notify()


class _PacedInput(list):
    """simple-websocket's input buffer for one session: its reader thread appends each frame here, and
    blocks while the session has more than ``max_backlog_s`` of audio queued ahead of the model. The
    socket is then not read, so TCP pushes back on a client that sends faster than the model runs."""

    def __init__(self, items, ws: Any, max_backlog_s: float):
        super().__init__(items)
        self.ws, self.max_backlog_s = ws, max_backlog_s
        self.session: Session | None = None  # set once the session exists; no pacing before

    def append(self, item) -> None:
        s = self.session
        while s is not None and s.backlog_s > self.max_backlog_s and self.ws.connected and not (s.failed or s.finished):
            s.drained.clear()
            s.drained.wait(0.2)
            s.last_activity = time.monotonic()  # held back by us, not idle
        super().append(item)


def _pace_input(ws: Any, max_backlog_s: float) -> _PacedInput | None:
    """Swap in the paced buffer first thing, before the client's first frames are likely to arrive."""
    if not isinstance(getattr(ws, "input_buffer", None), list):
        return None
    old = ws.input_buffer
    ws.input_buffer = paced = _PacedInput([], ws, max_backlog_s)
    paced[0:0] = old  # frames that arrived before the swap go first
    return paced


def _limit_send_buffer(ws: Any, size: int) -> None:
    """Bound the kernel's send buffer too, so a client that does not read fills the outbox soon."""
    sock_ = getattr(ws, "sock", None)
    if size and sock_ is not None:
        try:
            sock_.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError as exc:
            logger.warning("could not set SO_SNDBUF: %s", exc)


def _reject(ws: Any, message: dict[str, Any], code: int | None, reason: str) -> None:
    try:
        ws.send(json.dumps(message))
        ws.close(reason=code, message=reason[:120])
    except ConnectionClosed:
        pass


def create_app(config: Settings | None = None, worker: StreamWorker | None = None) -> Flask:
    """Build the worker's Flask app; ``worker`` lets tests and the benchmark share loaded models."""
    config = config or get_settings()
    app = Flask(__name__)
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": 4 * config.max_frame_bytes, "ping_interval": 20}
    worker = worker or StreamWorker(config)
    app.extensions["budgie_stream"] = worker
    sock.init_app(app)

    @app.get("/health")
    def health():
        """Report what this worker serves and how full it is."""
        return jsonify(worker.identity())

    @app.get("/metrics")
    def prometheus_metrics():
        """Prometheus exposition: sessions, chunk latency, lag, step time, loaded models of this worker."""
        body, content_type = metrics.render(config.metrics_dir)
        return Response(body, content_type=content_type)

    @app.get("/stats")
    def stats():
        """Chunk latency percentiles and compute totals per model."""
        if request.args.get("reset"):
            for s in worker.schedulers.values():
                s.stats.reset()
        return jsonify({m: s.stats.snapshot() for m, s in worker.schedulers.items()})

    worker.start()
    return app


@sock.route(STREAM_PATH)
def stream(ws):
    """Serve one streaming session."""
    current_app.extensions["budgie_stream"].handle(ws, request.args)


def serve(config: Settings, factory=None) -> None:
    """Run ``factory()`` (default: ``create_app(config)``) under gunicorn gthread in this process.

    One worker process so the model is loaded once; one thread per open socket.
    """
    from gunicorn.app.base import BaseApplication

    holder: dict = {}

    def shutdown(_arbiter, _worker) -> None:
        if "app" in holder:
            holder["app"].extensions["budgie_stream"].shutdown()

    class StreamServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{config.worker_host}:{config.worker_port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", config.worker_threads or config.max_sessions + 8)
            self.cfg.set("timeout", 300)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("worker_exit", shutdown)
            self.cfg.set("control_socket_disable", True)  # several workers may share a host

        def load(self):
            holder["app"] = factory() if factory else create_app(config)
            return holder["app"]

    StreamServer().run()


def main() -> None:
    """Entry point ``budgie-stream-worker``: settings from the environment."""
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    serve(settings)


if __name__ == "__main__":
    main()
