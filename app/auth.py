"""Who is calling: API keys, scopes and tenants for every route (see docs/security.md).

Routes declare what they need with ``@require_scope("jobs:read")`` (any valid key: ``@require_scope()``;
no key at all: ``@public``). A route that declares nothing is admin-only, so a new route is closed
until someone decides otherwise. ``current_principal()`` is the caller of this request: its tenant
decides which jobs it can see. Keys travel as ``Authorization: Bearer <secret>`` (what the OpenAI
SDK sends for ``api_key=``); WebSocket clients may also use ``?api_key=`` or the subprotocol pair
``["budgie", "budgie.key.<secret>"]`` (browsers cannot set headers).

Nothing is cached between requests: every request reads the key from Redis, so a revoked key stops
working at once on every API process.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from werkzeug.datastructures import Headers

from app.errors import ApiError
from app.extensions import apikeys, settings
from core.apikeys import ADMIN, DEFAULT_TENANT, SCOPES, ApiKey

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ANY_KEY = ""  # require_scope() without a scope: any valid key
WS_SUBPROTOCOL = "budgie"
WS_KEY_PREFIX = "budgie.key."
_SCOPE_ATTR = "budgie_scope"
_PUBLIC = "public"
_SELF_CHECKED = "self-checked"
REALM = 'Bearer realm="budgie"'


@dataclass(frozen=True)
class Principal:
    """The caller: a stored key, the ``BUDGIE_ADMIN_KEY``, or everyone when auth is off."""

    key_id: str | None
    name: str
    tenant: str
    scopes: frozenset[str]
    limits: Mapping[str, float] = field(default_factory=dict)
    webhook_secret: str | None = None
    enforced: bool = True
    """False when auth is off or for the admin key: no quota applies."""

    def has(self, scope: str) -> bool:
        return scope == ANY_KEY or ADMIN in self.scopes or scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def owns(self, job: Mapping[str, Any]) -> bool:
        """Whether this caller may see ``job`` (its own tenant's, or any for an admin)."""
        return self.is_admin or job.get("tenant") == self.tenant

    def limit(self, name: str, default: float) -> float:
        """A limit from the key's record, else the deployment's default."""
        return float(self.limits.get(name, default))


def _from_key(key: ApiKey) -> Principal:
    return Principal(
        key_id=key["id"],
        name=key["name"],
        tenant=key["tenant"],
        scopes=frozenset(key["scopes"]),
        limits=key["limits"],
        webhook_secret=key["webhook_secret"] or None,
    )


ANONYMOUS = Principal(key_id=None, name="auth off", tenant=DEFAULT_TENANT, scopes=frozenset(SCOPES), enforced=False)


def unauthorized(message: str, invalid: bool = False) -> ApiError:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return ApiError(401, message, "unauthorized", headers={"WWW-Authenticate": challenge})


def bearer_token(headers: Headers | Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def websocket_token(headers: Headers | Mapping[str, str], args: Mapping[str, str]) -> str | None:
    """The key of a WebSocket handshake: Authorization, then ``?api_key=``, then the subprotocol."""
    token = bearer_token(headers) or args.get("api_key") or None
    if token:
        return token
    offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    for protocol in offered:
        if protocol.startswith(WS_KEY_PREFIX):
            return protocol[len(WS_KEY_PREFIX) :]
    others = [p for p in offered if p != WS_SUBPROTOCOL]
    if WS_SUBPROTOCOL in offered and len(others) == 1:  # ["budgie", "<secret>"]
        return others[0]
    return None


def authenticate(token: str | None) -> Principal:
    """The principal for ``token``; raises a 401 ``ApiError`` for a missing, unknown or revoked key."""
    config = settings()
    if not config.auth:
        return ANONYMOUS
    if not token:
        raise unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
    admin = config.admin_key.get_secret_value() if config.admin_key else None
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(
            key_id="admin", name="BUDGIE_ADMIN_KEY", tenant="admin", scopes=frozenset(SCOPES), enforced=False
        )
    key = apikeys().authenticate(token)
    if key is None:
        raise unauthorized("Invalid or revoked API key", invalid=True)
    return _from_key(key)


def authorize(principal: Principal, scope: str) -> Principal:
    if not principal.has(scope):
        raise ApiError(
            403,
            f"This API key lacks the '{scope}' scope",
            "forbidden",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
        )
    return principal


def current_principal() -> Principal:
    """The caller of this request (authenticated once per request, from the Authorization header)."""
    if "budgie_principal" not in g:
        g.budgie_principal = authenticate(bearer_token(request.headers))
    principal: Principal = g.budgie_principal
    return principal


def require_scope(scope: str = ANY_KEY) -> Callable[[F], F]:
    """Route decorator: the caller needs ``scope`` (``require_scope()``: any valid key). 401/403 otherwise."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authorize(current_principal(), scope)
            return view(*args, **kwargs)

        setattr(wrapper, _SCOPE_ATTR, scope)
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Route decorator: no key needed (health checks, metrics scraping)."""
    setattr(view, _SCOPE_ATTR, _PUBLIC)
    return view


def is_public(view: Callable[..., Any]) -> bool:
    """Whether a view is open without a key here (public, or it checks keys itself)."""
    return getattr(view, _SCOPE_ATTR, None) in (_PUBLIC, _SELF_CHECKED)


def self_checked(view: F) -> F:
    """The route authenticates by itself (the WebSocket relay answers with an ``error`` and a close code)."""
    setattr(view, _SCOPE_ATTR, _SELF_CHECKED)
    return view


def init_app(app: Flask) -> None:
    """Close every route that declares no scope to all but admins, and warn when auth is off."""
    if not app.extensions["budgie.settings"].auth:
        logger.warning("BUDGIE_AUTH=off: the API accepts every request without a key; do not expose it")

    @app.before_request
    def _default_deny() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or request.method == "OPTIONS":
            return  # 404/405 (and CORS preflight) are answered by Flask
        if getattr(view, _SCOPE_ATTR, None) is None:
            authorize(current_principal(), ADMIN)
