"""One JSON error format for every failure: ``{"error": {"code", "message"[, "details"]}}``.

Under the OpenAI-compatible surface (``/openai/``) the same errors take OpenAI's body instead
(``app.openai.errors``), so the OpenAI SDK raises its own exceptions with Budgie's message.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, has_request_context, jsonify, request
from flask.typing import ResponseReturnValue
from kombu.exceptions import OperationalError as BrokerUnavailable
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.openai import errors as openai_errors

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # what a 503 asks clients to wait: Redis restarts and AOF reloads take seconds

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "headers_too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """``headers``: extra response headers (``WWW-Authenticate`` on 401, ``Retry-After`` on 429)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.details = details
        self.headers = headers or {}


def error_response(
    status: int, message: str, code: str | None = None, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    """The JSON error (OpenAI's shape under its surface); 429/503 carry ``Retry-After``; ``headers`` win."""
    code = code or CODES.get(status, "error")
    if has_request_context() and request.path.startswith(openai_errors.PREFIX):
        response = jsonify(openai_errors.body(status, message, code, details))
        response.headers.update(openai_errors.headers(code))
    else:
        body: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            body["details"] = details
        response = jsonify({"error": body})
    response.status_code = status
    if status in (429, 503):
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers.update(headers or {})
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        return error_response(exc.status, exc.message, exc.code, exc.details, exc.headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> ResponseReturnValue:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        fields = ", ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in messages.items())
        return error_response(400, f"Invalid request: {fields}", details=exc.messages)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        message = exc.description or exc.name
        if exc.code == 413:
            limit = int(app.config.get("MAX_CONTENT_LENGTH") or 0)
            message = f"File too large: the limit is {limit / (1024 * 1024):g} MB"
        return error_response(exc.code or 500, message)

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    @app.errorhandler(redis.exceptions.BusyLoadingError)
    @app.errorhandler(BrokerUnavailable)
    def _store_unavailable(exc: Exception) -> ResponseReturnValue:
        """Redis (job store and broker) is down or still loading: a retryable 503, not a 500."""
        logger.warning("job store unavailable: %s: %s", type(exc).__name__, exc)
        return error_response(503, "The job store is unavailable; try again shortly")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        logger.exception("unhandled error")
        return error_response(500, "Internal server error")
