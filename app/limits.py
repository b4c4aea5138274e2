"""Rate limits and quotas at the HTTP edge (see docs/security.md).

Requests per minute per key are counted by flask-limiter in Redis (``limits``' Redis storage, fixed
one-minute windows), so every API process shares the counters. The per-tenant quotas (active jobs,
open streams, audio seconds per day) live in ``core.quotas``; this module turns a refusal into a 429
with ``Retry-After``. A limit comes from the key's record (``budgie keys create --limit NAME=N``), else
from the settings; 0 means unlimited. Nothing is limited when auth is off or for ``BUDGIE_ADMIN_KEY``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RateLimitExceeded

from app.auth import Principal, current_principal, is_public
from app.errors import ApiError, error_response
from app.extensions import settings
from core.keys import Keys
from core.quotas import Quotas, seconds_to_midnight

ACTIVE_JOBS_RETRY_S = 10  # jobs end on their own schedule: ask the client to look again soon


def _requests_per_minute() -> int:
    return int(current_principal().limit("requests_per_minute", settings().rate_limit_per_minute))


def _exempt() -> bool:
    """Public routes, the WebSocket (it limits sessions, not requests), auth off, the admin key, 0."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or is_public(view):
        return True
    principal = current_principal()
    return not principal.enforced or _requests_per_minute() <= 0


def init_app(app: Flask) -> None:
    config = app.extensions["budgie.settings"]
    limiter = Limiter(
        key_func=lambda: f"key:{current_principal().key_id}",
        app=app,
        # one counter per key across every route (default_limits would count each route apart)
        application_limits=[lambda: f"{_requests_per_minute()}/minute"],
        storage_uri=config.redis_url,
        key_prefix=Keys(config.key_prefix).rate_limits,
        strategy="fixed-window",
        headers_enabled=True,  # X-RateLimit-* on every limited response; Retry-After on a 429
    )
    limiter.request_filter(_exempt)
    app.extensions["budgie.limiter"] = limiter
    app.extensions["budgie.quotas"] = Quotas(app.extensions["budgie.redis"], config.key_prefix)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> ResponseReturnValue:
        message = f"Rate limit exceeded: {exc.description} for this API key"
        return error_response(429, message, "rate_limited")  # flask-limiter sets Retry-After to the reset


def quotas() -> Quotas:
    return current_app.extensions["budgie.quotas"]  # type: ignore[no-any-return]


def _limit(principal: Principal, name: str) -> float:
    return principal.limit(name, float(getattr(settings(), _SETTING[name])))


_SETTING = {
    "requests_per_minute": "rate_limit_per_minute",
    "max_active_jobs": "max_active_jobs",
    "max_streams": "max_streams",
    "audio_seconds_per_day": "audio_seconds_per_day",
}


def start_job(principal: Principal, job_id: str) -> None:
    """Count a new job against the tenant's active jobs, or raise 429."""
    limit = _limit(principal, "max_active_jobs")
    if not principal.enforced or limit <= 0:
        return
    if not quotas().start_job(principal.tenant, job_id, int(limit)):
        raise ApiError(
            429,
            f"Tenant {principal.tenant} already has {int(limit)} active jobs (pending or running); "
            "wait for one to finish",
            "too_many_active_jobs",
            headers={"Retry-After": str(ACTIVE_JOBS_RETRY_S)},
        )


def forget_job(principal: Principal, job_id: str) -> None:
    if principal.enforced:
        quotas().forget_job(principal.tenant, job_id)


def add_audio(principal: Principal, seconds: float) -> None:
    """Count ``seconds`` of audio against today's quota, or raise 429 (until midnight UTC)."""
    limit = _limit(principal, "audio_seconds_per_day")
    if not principal.enforced or limit <= 0:
        return
    added, used = quotas().add_audio(principal.tenant, seconds, limit)
    if not added:
        raise ApiError(
            429,
            f"Daily audio quota: tenant {principal.tenant} has used {used:.0f} of {limit:.0f} seconds today (UTC); "
            f"this file is {seconds:.0f} s",
            "audio_quota_exceeded",
            headers={"Retry-After": str(seconds_to_midnight())},
        )


def open_stream(principal: Principal, lease_id: str) -> bool:
    """Take a streaming slot of the tenant (always granted when not enforced)."""
    limit = _limit(principal, "max_streams")
    if not principal.enforced or limit <= 0:
        return True
    return quotas().open_stream(principal.tenant, lease_id, int(limit), settings().stream_lease_s)


def usage(principal: Principal) -> dict[str, Any]:
    """The caller's tenant's counts next to its limits (``GET /v1/usage``)."""
    q = quotas()
    limiter: Limiter = current_app.extensions["budgie.limiter"]
    current = limiter.current_limit
    return {
        "tenant": principal.tenant,
        "key_id": principal.key_id,
        "enforced": principal.enforced,
        "limits": {name: _limit(principal, name) for name in _SETTING},
        "usage": {
            "requests_this_minute": (current.limit.amount - current.remaining) if current else None,
            "active_jobs": len(q.active_jobs(principal.tenant)),
            "streams": q.open_streams(principal.tenant),
            "audio_seconds_today": round(q.audio_today(principal.tenant), 3),
        },
    }
