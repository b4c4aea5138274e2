"""The wrapper every pipeline stage runs in: job-state bookkeeping, cancellation and clear failures."""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery.exceptions import Ignore, SoftTimeLimitExceeded

from core import jobstore, metrics, webhooks
from core.artifacts import Artifacts
from core.logs import log_context
from core.settings import get_settings
from core.storage import StorageError, open_storage, scratch_root
from workers.lease import StageLease
from workers.recovery import poison_message

logger = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A failure whose message is meant for the API user; ``code`` is a stable machine-readable reason."""

    def __init__(self, message: str, code: str = "stage_failed"):
        super().__init__(message)
        self.code = code


class JobCancelled(Exception):
    """The job ended (cancelled or deleted) while this stage was working on it: stop, write nothing."""


def check_cancelled(job_id: str) -> None:
    """Raise :class:`JobCancelled` if the job is no longer running (long stages call this between pieces)."""
    status = store().status(job_id)
    if status is None or status in jobstore.TERMINAL:
        raise JobCancelled(job_id)


def job_ended(jobs: jobstore.JobStore, job_id: str) -> None:
    """A stage moved the job to a terminal state: announce it (its webhook, if it has one)."""
    from celery import current_app

    webhooks.announce(current_app, jobs, job_id)


def store() -> jobstore.JobStore:
    s = get_settings()
    return jobstore.JobStore.from_url(s.redis_url, s.key_prefix, s.job_ttl_s, patient=True)


_scratch: contextvars.ContextVar[Path | None] = contextvars.ContextVar("stage_scratch", default=None)


@contextmanager
def stage_scratch(job_id: str, name: str) -> Iterator[Path]:
    """A local directory for the running stage's copies of the job's files, removed when it ends."""
    root = scratch_root(get_settings())
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{job_id}.{name}.", dir=root))
    token = _scratch.set(path)
    try:
        yield path
    finally:
        _scratch.reset(token)
        shutil.rmtree(path, ignore_errors=True)


def artifacts(job_id: str) -> Artifacts:
    """The job's files in the configured store, with the running stage's scratch directory."""
    settings = get_settings()
    scratch = _scratch.get() or scratch_root(settings) / f"{job_id}.adhoc"
    return Artifacts(open_storage(settings), job_id, scratch)


def stage(name: str, completes_job: bool = False):
    """Record running/completed/failed for stage ``name`` of the job whose id is the first argument.

    A job that was cancelled (or already failed) is not worked on: the task is ignored, which
    also stops the rest of its chain. ``completes_job``: the last stage; once its own record is
    final the job becomes completed, so a client never sees a completed job with a stage still open.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def run(job_id: str, *args, **kwargs):
            with log_context(job_id=job_id, stage=name), stage_scratch(job_id, name):
                return _run(job_id, *args, **kwargs)

        def _run(job_id: str, *args, **kwargs):
            jobs = store()
            lease = _take_lease(jobs, job_id, name)
            if lease is None:
                return None  # another copy of this stage completed it (a re-enqueued or redelivered task)
            try:
                return _run_leased(jobs, job_id, *args, **kwargs)
            finally:
                lease.release()

        def _run_leased(jobs: jobstore.JobStore, job_id: str, *args, **kwargs):
            record = jobs.stage_record(job_id, name) or {}
            kills = int(record.get("attempts", 0))
            if kills >= get_settings().stage_max_kills:  # every earlier attempt died with its worker
                message = poison_message(name, kills)
                jobs.update_stage(
                    job_id, name, status="failed", error=message, error_code="worker_died", completed_at=jobstore.now()
                )
                if jobs.transition(
                    job_id, jobstore.FAILED, error=message, error_code="worker_died", completed_at=jobstore.now()
                ):
                    job_ended(jobs, job_id)
                raise Ignore()
            started = time.time()
            jobs.transition(job_id, jobstore.RUNNING)
            jobs.mark_started(job_id)
            jobs.update_stage(job_id, name, status="running", started_at=jobstore.now(), attempts=kills + 1)
            try:
                result = fn(job_id, *args, **kwargs)
            except JobCancelled:
                logger.info("job %s ended while %s ran; stopped", job_id, name)
                _count(jobs, job_id, name, "cancelled")
                jobs.update_stage(
                    job_id,
                    name,
                    status="cancelled",
                    completed_at=jobstore.now(),
                    duration_ms=int((time.time() - started) * 1000),
                )
                raise Ignore() from None
            except Exception as exc:
                message, code = user_error(name, exc)
                logger.exception("job %s: %s failed", job_id, name)
                _count(jobs, job_id, name, "failed")
                jobs.update_stage(
                    job_id,
                    name,
                    status="failed",
                    error=message,
                    error_code=code,
                    completed_at=jobstore.now(),
                    duration_ms=int((time.time() - started) * 1000),
                )
                if jobs.transition(
                    job_id, jobstore.FAILED, error=message, error_code=code, completed_at=jobstore.now()
                ):
                    job_ended(jobs, job_id)
                raise
            jobs.update_stage(
                job_id,
                name,
                status="completed",
                completed_at=jobstore.now(),
                duration_ms=int((time.time() - started) * 1000),
            )
            if completes_job and jobs.transition(job_id, jobstore.COMPLETED, completed_at=jobstore.now()):
                job_ended(jobs, job_id)
            _observe(jobs, job_id, name, time.time() - started, completes_job)
            return result

        return run

    return decorate


def _count(jobs: jobstore.JobStore, job_id: str, name: str, outcome: str) -> None:
    try:
        metrics.STAGE_RUNS.labels(jobs.measures(job_id)["model"], name, outcome).inc()
    except Exception:  # metrics must never fail a stage
        logger.warning("could not record %s metrics for %s", name, job_id, exc_info=True)


def _observe(jobs: jobstore.JobStore, job_id: str, name: str, seconds: float, job_done: bool) -> None:
    """Stage duration and RTFx; for the last stage also the whole job's (submission to completion)."""
    try:
        job = jobs.measures(job_id)
        model, audio_s = job["model"], job["audio_s"]
        seconds = max(seconds, 1e-6)
        metrics.STAGE_RUNS.labels(model, name, "completed").inc()
        metrics.STAGE_SECONDS.labels(model, name).observe(seconds)
        if audio_s:
            metrics.STAGE_RTFX.labels(model, name).observe(audio_s / seconds)
        if job_done and job["created_at"]:
            total = max(time.time() - job["created_at"], 1e-6)
            metrics.JOB_SECONDS.labels(model).observe(total)
            if audio_s:
                metrics.JOB_RTFX.labels(model).observe(audio_s / total)
    except Exception:  # metrics must never fail a stage
        logger.warning("could not record %s metrics for %s", name, job_id, exc_info=True)


# An absolute path not inside a URL (``http://host/a/b`` keeps its path: a word character precedes it).
_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+-]+/)+[\w.@+-]*")


def scrub(message: str) -> str:
    """Remove server file paths from a message shown to clients (full detail stays in the logs)."""
    return _PATH.sub("<file>", message)


def _take_lease(jobs: jobstore.JobStore, job_id: str, name: str) -> StageLease | None:
    """The stage's lease, or None if the stage is already completed; Ignore if the job has ended.

    If another worker holds the lease (two copies of the stage after a recovery), wait for it to
    finish or for its lease to expire, so one stage never runs twice at the same time.
    """
    settings = get_settings()
    deadline = time.monotonic() + settings.task_time_limit_s
    while True:
        status = jobs.status(job_id)
        if status is None or status in jobstore.TERMINAL:
            logger.info("job %s is %s; skipping %s", job_id, status or "gone", name)
            raise Ignore()
        record = jobs.stage_record(job_id, name) or {}
        if record.get("status") == "completed":
            logger.info("job %s: %s already completed; passing on", job_id, name)
            return None
        lease = StageLease(jobs.r, jobs.keys, job_id, name, settings.stage_lease_s)
        if lease.acquire():
            return lease
        if time.monotonic() > deadline:
            raise StageError("another worker held this stage past the time limit")
        time.sleep(min(1.0, settings.stage_lease_s / 3))


def user_error(name: str, exc: Exception) -> tuple[str, str]:
    """``(message, code)`` for the API user: no server paths, no exception class names."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"{name}: the stage ran past its time limit", "stage_timeout"
    if isinstance(exc, StageError):
        return scrub(f"{name}: {exc}"), exc.code
    if isinstance(exc, StorageError):
        return scrub(f"{name}: storage failed: {exc}"), "storage_error"
    return f"{name}: the stage failed unexpectedly (the details are in the worker logs)", "internal_error"
