"""API keys in Redis: who may call the API, for which tenant, with which scopes and limits.

A secret is shown once, when its key is created; Redis keeps only its SHA-256 digest (the secrets
are 256-bit random strings, so a plain digest cannot be reversed by guessing). Each key also has a
webhook signing secret, which must stay readable to sign events and is therefore stored as is.
Revoking deletes the digest's lookup entry, so the key stops working at once on every API process
(nothing is cached in a process).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from typing import NamedTuple, TypedDict

import redis

from core.keys import Keys

JOBS_READ, JOBS_WRITE, STREAM, ADMIN = "jobs:read", "jobs:write", "stream", "admin"
SCOPES = (JOBS_READ, JOBS_WRITE, STREAM, ADMIN)
DEFAULT_SCOPES = (JOBS_READ, JOBS_WRITE, STREAM)
SECRET_PREFIX = "bgk_"
WEBHOOK_SECRET_PREFIX = "whsec_"
DEFAULT_TENANT = "default"
LIMIT_NAMES = ("requests_per_minute", "max_active_jobs", "max_streams", "audio_seconds_per_day")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class ApiKeyError(ValueError):
    """A bad argument to create or revoke (the message is meant for the operator)."""


class ApiKey(TypedDict):
    id: str
    name: str
    tenant: str
    scopes: list[str]
    created_at: float
    revoked_at: float | None
    limits: dict[str, float]
    webhook_secret: str


class Created(NamedTuple):
    key: ApiKey
    secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    if not _NAME.match(tenant):
        raise ApiKeyError(f"tenant '{tenant}' must be 1-64 letters, digits or _.@- (starting with a letter or digit)")
    return tenant


class ApiKeyStore:
    def __init__(self, client: redis.Redis, prefix: str = "budgie"):
        self.r = client
        self.keys = Keys(prefix)

    def create(
        self,
        name: str,
        tenant: str = DEFAULT_TENANT,
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        limits: dict[str, float] | None = None,
    ) -> Created:
        """Store a new key and return it with its secret (the only time the secret exists in clear)."""
        if not name.strip() or len(name) > 200:
            raise ApiKeyError("the name must be 1-200 characters")
        check_tenant(tenant)
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(SCOPES)}")
        bad = sorted(set(limits or {}) - set(LIMIT_NAMES))
        if bad:
            raise ApiKeyError(f"unknown limit(s) {', '.join(bad)}; valid: {', '.join(LIMIT_NAMES)}")
        if any(v < 0 for v in (limits or {}).values()):
            raise ApiKeyError("limits must not be negative")
        key_id = f"key_{uuid.uuid4().hex[:12]}"
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key: ApiKey = {
            "id": key_id,
            "name": name.strip(),
            "tenant": tenant,
            "scopes": [s for s in SCOPES if s in scopes],
            "created_at": round(time.time(), 3),
            "revoked_at": None,
            "limits": dict(limits or {}),
            "webhook_secret": WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32),
        }
        pipe = self.r.pipeline()
        pipe.hset(
            self.keys.api_key(key_id),
            mapping={
                "id": key_id,
                "name": key["name"],
                "tenant": tenant,
                "scopes": json.dumps(key["scopes"]),
                "created_at": key["created_at"],
                "limits": json.dumps(key["limits"]),
                "webhook_secret": key["webhook_secret"],
                "digest": digest(secret),
            },
        )
        pipe.set(self.keys.api_key_digest(digest(secret)), key_id)
        pipe.sadd(self.keys.api_keys, key_id)
        pipe.execute()
        return Created(key, secret)

    def get(self, key_id: str) -> ApiKey | None:
        raw: dict[str, str] = self.r.hgetall(self.keys.api_key(key_id))  # type: ignore[assignment]
        if not raw:
            return None
        return {
            "id": raw["id"],
            "name": raw["name"],
            "tenant": raw["tenant"],
            "scopes": json.loads(raw["scopes"]),
            "created_at": float(raw["created_at"]),
            "revoked_at": float(raw["revoked_at"]) if raw.get("revoked_at") else None,
            "limits": json.loads(raw.get("limits") or "{}"),
            "webhook_secret": raw.get("webhook_secret", ""),
        }

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, or None (unknown, malformed or revoked)."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        key_id: str | None = self.r.get(self.keys.api_key_digest(digest(secret)))  # type: ignore[assignment]
        key = self.get(key_id) if key_id else None
        if key is None or key["revoked_at"] is not None:
            return None
        return key

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        ids: set[str] = self.r.smembers(self.keys.api_keys)  # type: ignore[assignment]
        found = [k for i in ids if (k := self.get(i)) is not None and (tenant is None or k["tenant"] == tenant)]
        return sorted(found, key=lambda k: k["created_at"])

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once (the digest lookup is deleted); the record stays for the audit trail."""
        key_digest: str | None = self.r.hget(self.keys.api_key(key_id), "digest")  # type: ignore[assignment]
        if key_digest is None:
            raise ApiKeyError(f"no key {key_id}")
        pipe = self.r.pipeline()
        pipe.delete(self.keys.api_key_digest(key_digest))
        pipe.hsetnx(self.keys.api_key(key_id), "revoked_at", round(time.time(), 3))
        pipe.execute()
        key = self.get(key_id)
        assert key is not None
        return key
