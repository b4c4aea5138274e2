"""OpenAI's error body, ``{"error": {"message", "type", "param", "code"}}``, for every failure under the surface.

The OpenAI SDK raises ``BadRequestError``/``NotFoundError``/... from the status and shows ``message``;
``param`` names the form field at fault when Budgie knows it.
"""

from __future__ import annotations

from typing import Any

PREFIX = "/openai/"

TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}

# Budgie error codes whose field is implied by the code itself
PARAMS = {
    "unknown_model": "model",
    "language_not_supported": "language",
    "invalid_audio": "file",
    "translation_not_supported": "model",
    "model_not_found": "model",
}

# Codes whose request did submit a job: a retry would transcribe the audio again as a new job
SUBMITTED = {"job_timeout", "job_failed", "job_cancelled"}


def headers(code: str) -> dict[str, str]:
    """``x-should-retry: false`` (honoured by the OpenAI SDK) where a retry would duplicate the job."""
    return {"x-should-retry": "false"} if code in SUBMITTED else {}


def error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return TYPES.get(status, "invalid_request_error")


def param_of(code: str, details: Any) -> str | None:
    if code in PARAMS:
        return PARAMS[code]
    if isinstance(details, dict) and details:
        field = next(iter(details))
        return None if field.startswith("_") else str(field)
    return None


def body(status: int, message: str, code: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": error_type(status),
        "param": param_of(code, details),
        "code": code,
    }
    if isinstance(details, dict) and "job_id" in details:
        error["job_id"] = details["job_id"]  # the native job the caller can still fetch
    return {"error": error}
