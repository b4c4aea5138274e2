"""What the factory attaches to the app: the settings, Redis, the job and API-key stores, the key schema and Celery."""

from __future__ import annotations

import redis
from celery import Celery
from flask import Flask, current_app

from core.apikeys import ApiKeyStore
from core.jobstore import JobStore
from core.keys import Keys
from core.queue import make_celery
from core.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    app.extensions["budgie.settings"] = settings
    app.extensions["budgie.redis"] = client
    app.extensions["budgie.jobs"] = JobStore(client, settings.key_prefix, settings.job_ttl_s)
    app.extensions["budgie.keys"] = Keys(settings.key_prefix)
    app.extensions["budgie.celery"] = make_celery(settings)
    app.extensions["budgie.apikeys"] = ApiKeyStore(client, settings.key_prefix)


def settings() -> Settings:
    return current_app.extensions["budgie.settings"]  # type: ignore[no-any-return]


def jobs() -> JobStore:
    return current_app.extensions["budgie.jobs"]  # type: ignore[no-any-return]


def redis_client() -> redis.Redis:
    return current_app.extensions["budgie.redis"]  # type: ignore[no-any-return]


def celery() -> Celery:
    """The Celery app the API enqueues with (tasks are sent by name; no stage module is imported)."""
    return current_app.extensions["budgie.celery"]


def keys() -> Keys:
    return current_app.extensions["budgie.keys"]  # type: ignore[no-any-return]


def apikeys() -> ApiKeyStore:
    return current_app.extensions["budgie.apikeys"]  # type: ignore[no-any-return]
