"""``WS /v1/audio/transcriptions/stream``: validate, pick a worker, relay the session both ways.

The API relays rather than handing the client over, so workers stay on the private network and
the client sees one stable endpoint. If the chosen worker turns out to be full (its slot count in
Redis was stale) the next one is tried; when none is left the client gets ``no_capacity``/4503.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Flask, request
from flask_sock import Sock
from simple_websocket import Client, ConnectionClosed

from app import auth, limits
from app.errors import ApiError
from app.extensions import keys, redis_client, settings
from app.ws.routing import live_workers
from core.apikeys import STREAM
from core.catalog import registry
from core.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_NO_CAPACITY,
    CLOSE_NORMAL,
    CLOSE_NOT_SERVED,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    CLOSE_WORKER_LOST,
    ProtocolError,
    error_message,
    parse_params,
)

logger = logging.getLogger(__name__)

PATH = "/v1/audio/transcriptions/stream"
CONNECT_TIMEOUT_S = 10
CLOSE_FOR_STATUS = {401: CLOSE_UNAUTHORIZED, 403: CLOSE_FORBIDDEN, 429: CLOSE_RATE_LIMITED}
sock = Sock()


def init_app(app: Flask) -> None:
    # "budgie" is echoed when offered, so browsers may send their key as a second subprotocol (app.auth)
    options = {
        "ping_interval": 20,
        "subprotocols": [auth.WS_SUBPROTOCOL],
        # the worker's own limit, enforced here too: a huge frame is refused (close 1009) before relaying
        "max_message_size": 4 * app.extensions["budgie.settings"].max_frame_bytes,
    }
    app.config.setdefault("SOCK_SERVER_OPTIONS", options)
    sock.init_app(app)


def _authorize() -> auth.Principal:
    """The caller, from the handshake's Authorization header, ``?api_key=`` or subprotocol."""
    principal = auth.authenticate(auth.websocket_token(request.headers, request.args))
    return auth.authorize(principal, STREAM)


def _close(ws: Any, message: dict[str, Any] | None, code: int | None, reason: str = "") -> None:
    try:
        if message is not None:
            ws.send(json.dumps(message))
        ws.close(reason=code, message=reason[:120])
    except ConnectionClosed:
        pass


def _connect(worker: dict[str, Any], query: str) -> tuple[Any, str] | None:
    """Open the upstream session; return (client, first message) or None if this worker cannot take it."""
    url = f"{worker['endpoint'].rstrip('/')}{PATH}?{query}"
    try:
        upstream = Client.connect(url)
    except Exception as exc:  # refused, DNS, handshake: try the next worker
        logger.warning("streaming worker %s unreachable: %s", worker.get("worker_id"), exc)
        return None
    try:
        first = upstream.receive(timeout=CONNECT_TIMEOUT_S)
    except ConnectionClosed:
        first = None
    message = json.loads(first) if isinstance(first, str) else None
    if message is None or first is None or message.get("code") == "no_capacity":
        try:
            upstream.close()
        except ConnectionClosed:
            pass
        return None
    return upstream, first


@auth.self_checked
def stream(ws: Any) -> None:
    """Relay one streaming session to the least-loaded worker serving the model."""
    config = settings()
    try:
        principal = _authorize()
    except ApiError as exc:
        return _close(ws, error_message(exc.code, exc.message), CLOSE_FOR_STATUS[exc.status], exc.code)
    except redis.RedisError as exc:  # the key store is unreachable: retryable, say so
        logger.warning("cannot check the API key: %s", exc)
        message = "the key store is unavailable; try again shortly"
        return _close(ws, error_message("service_unavailable", message), CLOSE_INTERNAL, "unavailable")
    try:
        _params, entry = parse_params(request.args, registry(), config.default_model)
    except ProtocolError as exc:
        return _close(ws, exc.to_message(), exc.close_code, exc.message)
    forwarded = {k: v for k, v in request.args.to_dict().items() if k != "api_key"}  # the key stays here
    query = urlencode({**forwarded, "model": entry.id})
    try:
        serving = live_workers(
            redis_client(), keys().realtime_workers, entry.id, config.realtime_stale_s, include_full=True
        )
    except redis.RedisError as exc:  # the registry of workers is unreachable: retryable, say so
        logger.warning("cannot list streaming workers: %s", exc)
        message = "the service registry is unavailable; try again shortly"
        return _close(ws, error_message("service_unavailable", message), CLOSE_INTERNAL, "unavailable")
    workers = [w for w in serving if w["free"] > 0]
    if not serving:  # told apart from "all full" (4503): waiting will not help until a worker is started
        message = f"no streaming worker serves {entry.id} right now"
        return _close(ws, error_message("model_not_served", message), CLOSE_NOT_SERVED, "model not served")
    lease = f"{config.worker_id}:{uuid.uuid4().hex}"
    try:
        allowed = limits.open_stream(principal, lease)
    except redis.RedisError as exc:
        logger.warning("cannot take a streaming slot: %s", exc)
        message = "the quota store is unavailable; try again shortly"
        return _close(ws, error_message("service_unavailable", message), CLOSE_INTERNAL, "unavailable")
    if not allowed:
        message = f"tenant {principal.tenant} already has its maximum of open streaming sessions"
        return _close(ws, error_message("rate_limited", message), CLOSE_RATE_LIMITED, "rate limited")
    try:
        _route(ws, workers, query, entry.id, _Lease(principal, lease, config.stream_lease_s))
    finally:
        if principal.enforced:
            limits.quotas().close_stream(principal.tenant, lease)


class _Lease:
    """Renews the session's slot while it is open (a third of the lease time apart)."""

    def __init__(self, principal: auth.Principal, lease: str, ttl_s: float):
        self.principal, self.lease, self.ttl_s = principal, lease, ttl_s
        self.renewed = time.monotonic()

    def keep(self) -> None:
        if not self.principal.enforced or time.monotonic() - self.renewed < self.ttl_s / 3:
            return
        try:
            limits.quotas().renew_stream(self.principal.tenant, self.lease, self.ttl_s)
            self.renewed = time.monotonic()
        except redis.RedisError as exc:  # the session goes on; the slot may lapse early
            logger.warning("could not renew the streaming lease: %s", exc)


def _route(ws: Any, workers: list[dict[str, Any]], query: str, model_id: str, lease: _Lease) -> None:
    for worker in workers:
        connected = _connect(worker, query)
        if connected:
            upstream, first = connected
            ws.send(first)
            return _relay(ws, upstream, worker, lease)
    _close(
        ws,
        error_message("no_capacity", f"no streaming worker has a free session for {model_id}"),
        CLOSE_NO_CAPACITY,
        "no capacity",
    )


def _relay(ws: Any, upstream: Any, worker: dict[str, Any], lease: _Lease) -> None:
    done = threading.Event()

    def downstream() -> None:
        """Worker -> client, then mirror the worker's close code."""
        try:
            while True:
                data = upstream.receive()
                if data is None:
                    continue
                ws.send(data)
        except ConnectionClosed:
            pass
        except Exception:  # the client is gone
            logger.info("client left while relaying from %s", worker.get("worker_id"))
        finally:
            code = upstream.close_reason
            done.set()
            if ws.connected:
                if isinstance(code, int) and (code == CLOSE_NORMAL or 4000 <= code < 5000):
                    _close(ws, None, code, upstream.close_message or "")
                else:
                    _close(
                        ws,
                        error_message("worker_lost", "the streaming worker went away"),
                        CLOSE_WORKER_LOST,
                        "worker lost",
                    )

    thread = threading.Thread(target=downstream, name="relay-down", daemon=True)
    thread.start()
    try:
        while not done.is_set():
            data = ws.receive(timeout=0.5)
            if data is not None and upstream.connected:
                upstream.send(data)
            lease.keep()
    except ConnectionClosed:
        pass
    finally:
        if upstream.connected:
            try:
                upstream.close()
            except ConnectionClosed:
                pass
        thread.join(timeout=5)


sock.route(PATH)(stream)  # flask-sock's blueprint, attached to each app by init_app
