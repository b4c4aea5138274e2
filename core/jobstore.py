"""Job state in Redis: one hash per job plus a time-ordered index.

Each stage writes only its own ``stage:<name>`` field, so parallel stages (transcribe and
diarize) never overwrite each other. Status changes go through a transaction that refuses to
leave a terminal state, so a stage finishing after a cancel cannot reopen the job.

Every write after ``create`` is conditional on the record still existing (checked in the same
transaction), so a stage that outlives its job's deletion or expiry cannot resurrect a partial
record; and every write renews the TTL, so a job counts as expired ``ttl_s`` after its last
activity, never while a stage is still working on it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypedDict

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from core.keys import Keys
from core.transcript import Transcript

logger = logging.getLogger(__name__)

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "pending", "running", "completed", "failed", "cancelled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
ACTIVE = (PENDING, RUNNING)
STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)


class StageRecord(TypedDict, total=False):
    """One stage of a job: ``stage`` and ``status`` always, the rest once it ran."""

    stage: str
    status: str
    started_at: float
    completed_at: float
    duration_ms: int
    error: str
    error_code: str
    chunks_done: int
    chunks_total: int
    attempts: int
    retried_at: float


class Job(TypedDict):
    """A job as stored: the request, its status and stages and, once completed, the result."""

    id: str
    status: str
    created_at: float
    request: dict[str, Any]
    error: str | None
    error_code: str | None
    started_at: float | None
    completed_at: float | None
    duration: float | None
    result: Transcript | None
    stages: list[StageRecord]
    tenant: str | None
    """The tenant of the key that submitted it (None: submitted before auth existed)."""
    key_id: str | None
    webhook: dict[str, Any] | None
    """Where its end is announced and every delivery attempt (core.webhooks)."""


class JobMeasures(TypedDict):
    model: str
    audio_s: float
    created_at: float | None


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex[:16]}"


def now() -> float:
    return round(time.time(), 3)


class JobStore:
    def __init__(self, client: redis.Redis, prefix: str = "budgie", ttl_s: int = 7 * 24 * 3600):
        self.r = client
        self.keys = Keys(prefix)
        self.ttl_s = ttl_s

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "budgie", ttl_s: int = 7 * 24 * 3600, *, patient: bool = False
    ) -> JobStore:
        """``patient``: ride out a Redis restart (about 40 s of retries with backoff) rather than fail;
        what workers want for their bookkeeping, where the API prefers a quick 503."""
        if not patient:
            return cls(redis.Redis.from_url(url, decode_responses=True), prefix, ttl_s)
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=5.0, base=0.25), 10),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError],
        )
        return cls(client, prefix, ttl_s)

    def _key(self, job_id: str) -> str:
        return self.keys.job(job_id)

    @property
    def _index(self) -> str:
        return self.keys.jobs

    def create(
        self,
        job_id: str,
        request: dict[str, Any],
        stages: list[str],
        tenant: str | None = None,
        key_id: str | None = None,
    ) -> Job:
        """Store a pending job; ``tenant`` also indexes it in that tenant's own listing."""
        created = now()
        fields: dict[Any, Any] = {
            "id": job_id,
            "status": PENDING,
            "created_at": created,
            "request": json.dumps(request),
            "stages": json.dumps(stages),
        }
        fields.update({f"stage:{s}": json.dumps({"status": PENDING}) for s in stages})
        fields.update({k: v for k, v in (("tenant", tenant), ("key_id", key_id)) if v is not None})
        pipe = self.r.pipeline()
        pipe.hset(self._key(job_id), mapping=fields)
        pipe.expire(self._key(job_id), self.ttl_s)
        pipe.zadd(self._index, {job_id: created})
        if tenant is not None:
            pipe.zadd(self.keys.tenant_jobs(tenant), {job_id: created})
            pipe.expire(self.keys.tenant_jobs(tenant), self.ttl_s)
        pipe.hincrby(self.keys.job_states, PENDING, 1)
        pipe.execute()
        job = self.get(job_id)
        assert job is not None
        return job

    def exists(self, job_id: str) -> bool:
        return bool(self.r.exists(self._key(job_id)))

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is missing, expired or damaged (a damaged record is removed)."""
        raw: dict[str, str] = self.r.hgetall(self._key(job_id))  # type: ignore[assignment]
        if not raw:
            return None
        try:
            return _parse(raw)
        except (KeyError, ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            logger.warning(
                "job %s: damaged record (%s: %s, fields %s); removing it", job_id, type(exc).__name__, exc, sorted(raw)
            )
            self.delete(job_id)
            return None

    def stage_record(self, job_id: str, stage: str) -> StageRecord | None:
        raw = self.r.hget(self._key(job_id), f"stage:{stage}")
        return None if raw is None else {"stage": stage, **json.loads(raw)}

    def status(self, job_id: str) -> str | None:
        return self.r.hget(self._key(job_id), "status")  # type: ignore[return-value]

    def list(
        self, limit: int = 20, before: float | None = None, status: str | None = None, tenant: str | None = None
    ) -> tuple[list[Job], bool]:
        """Return up to ``limit`` jobs (of ``tenant`` only, when given), newest first, created strictly
        before ``before``; and whether more exist."""
        index = self.keys.tenant_jobs(tenant) if tenant is not None else self._index
        max_score = f"({before}" if before is not None else "+inf"
        jobs: list[Job] = []
        offset = 0
        while len(jobs) <= limit:
            ids: list[str] = self.r.zrevrangebyscore(  # type: ignore[assignment]
                index, max_score, "-inf", start=offset, num=limit + 1
            )
            if not ids:
                break
            offset += len(ids)
            for job_id in ids:
                job = self.get(job_id)
                if job is None:  # expired: drop from the index lazily
                    self.r.zrem(index, job_id)
                elif status is None or job["status"] == status:
                    jobs.append(job)
        return jobs[:limit], len(jobs) > limit

    def transition(self, job_id: str, status: str, **fields: Any) -> bool:
        """Move the job to ``status`` unless it is gone or already terminal; return whether it moved."""

        def change(current: Callable[[str], str | None]) -> dict[str, str] | None:
            if current("status") in TERMINAL:
                return None
            return {"status": status, **{k: _dump(v) for k, v in fields.items()}}

        return self._write(job_id, change)

    def set_fields(self, job_id: str, **fields: Any) -> bool:
        return self._write(job_id, lambda _current: {k: _dump(v) for k, v in fields.items()})

    def mark_started(self, job_id: str) -> bool:
        """Record when the first stage started (parallel stages cannot overwrite it)."""
        return self._write(job_id, lambda current: None if current("started_at") else {"started_at": str(now())})

    def update_stage(self, job_id: str, stage: str, **fields: Any) -> bool:
        field = f"stage:{stage}"
        return self._write(
            job_id, lambda current: {field: json.dumps({**json.loads(current(field) or "{}"), **fields})}
        )

    def _write(self, job_id: str, change: Callable[[Callable[[str], str | None]], dict[str, str] | None]) -> bool:
        """Apply ``change`` (which reads fields through its argument) only if the job still exists.

        One optimistic transaction: the existence check, the read and the write cannot interleave
        with a delete, and the TTL is renewed with the write. Returns whether anything was written.
        """
        key = self._key(job_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if not pipe.exists(key):
                        pipe.unwatch()
                        return False
                    mapping = change(lambda name: pipe.hget(key, name))  # type: ignore[arg-type,return-value]
                    if not mapping:
                        pipe.unwatch()
                        return False
                    old_status = pipe.hget(key, "status") if "status" in mapping else None
                    pipe.multi()
                    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                    pipe.expire(key, self.ttl_s)
                    if old_status and mapping["status"] != old_status:  # the state counts move with the job
                        pipe.hincrby(self.keys.job_states, old_status, -1)
                        pipe.hincrby(self.keys.job_states, mapping["status"], 1)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def state_counts(self) -> dict[str, int]:
        """Jobs pending and running now, and how many ever completed, failed or were cancelled.

        Kept by :meth:`create` and :meth:`transition`, so reading them costs one HGETALL, not a scan.
        """
        raw: dict[str, str] = self.r.hgetall(self.keys.job_states)  # type: ignore[assignment]
        return {state: int(raw.get(state, 0)) for state in STATUSES}

    def measures(self, job_id: str) -> JobMeasures:
        """What the metrics need about a job: its model, audio length and submission time."""
        values: list[str | None] = self.r.hmget(self._key(job_id), ["request", "duration", "created_at"])  # type: ignore[assignment]
        request, duration, created = values
        req = json.loads(request or "{}")
        audio_s = _float(duration) or float(req.get("probe", {}).get("duration") or 0.0)
        return {"model": str(req.get("model", "")), "audio_s": audio_s, "created_at": _float(created)}

    def delete(self, job_id: str) -> None:
        tenant: str | None = self.r.hget(self._key(job_id), "tenant")  # type: ignore[assignment]
        pipe = self.r.pipeline()
        pipe.delete(self._key(job_id))
        pipe.zrem(self._index, job_id)
        if tenant is not None:
            pipe.zrem(self.keys.tenant_jobs(tenant), job_id)
        pipe.execute()


def _parse(raw: dict[str, str]) -> Job:
    stages = json.loads(raw["stages"])
    return {
        "id": raw["id"],
        "status": raw["status"],
        "created_at": float(raw["created_at"]),
        "request": json.loads(raw.get("request", "{}")),
        "error": raw.get("error"),
        "error_code": raw.get("error_code"),
        "started_at": _float(raw.get("started_at")),
        "completed_at": _float(raw.get("completed_at")),
        "duration": _float(raw.get("duration")),
        "result": json.loads(raw["result"]) if raw.get("result") else None,
        "stages": [{"stage": s, **json.loads(raw.get(f"stage:{s}", "{}"))} for s in stages],
        "tenant": raw.get("tenant"),
        "key_id": raw.get("key_id"),
        "webhook": json.loads(raw["webhook"]) if raw.get("webhook") else None,
    }


def _dump(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)
