"""Shared clients the factory attaches to the app: Redis, the job store, the Celery app."""
from __future__ import annotations

import redis
from flask import Flask, current_app

from workers.jobstore import JobStore


def init_app(app: Flask) -> None:
    client = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)
    app.extensions["redis"] = client
    app.extensions["jobs"] = JobStore(client, app.config["BUDGIE_KEY_PREFIX"], int(app.config["BUDGIE_JOB_TTL_S"]))


def jobs() -> JobStore:
    return current_app.extensions["jobs"]


def redis_client() -> redis.Redis:
    return current_app.extensions["redis"]
