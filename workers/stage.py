"""The wrapper every pipeline stage runs in: job-state bookkeeping, cancellation and clear failures."""

from __future__ import annotations

import functools
import logging
import time

from celery.exceptions import Ignore, SoftTimeLimitExceeded

from core import jobstore
from core.artifacts import Artifacts
from core.logs import log_context
from core.settings import get_settings

logger = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A failure whose message is meant for the API user."""


class JobCancelled(Exception):
    """The job ended (cancelled or deleted) while this stage was working on it: stop, write nothing."""


def check_cancelled(job_id: str) -> None:
    """Raise :class:`JobCancelled` if the job is no longer running (long stages call this between pieces)."""
    status = store().status(job_id)
    if status is None or status in jobstore.TERMINAL:
        raise JobCancelled(job_id)


def store() -> jobstore.JobStore:
    s = get_settings()
    return jobstore.JobStore.from_url(s.redis_url, s.key_prefix, s.job_ttl_s)


def artifacts(job_id: str) -> Artifacts:
    return Artifacts(get_settings().data_dir, job_id)


def stage(name: str, completes_job: bool = False):
    """Record running/completed/failed for stage ``name`` of the job whose id is the first argument.

    A job that was cancelled (or already failed) is not worked on: the task is ignored, which
    also stops the rest of its chain. ``completes_job``: the last stage; once its own record is
    final the job becomes completed, so a client never sees a completed job with a stage still open.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def run(job_id: str, *args, **kwargs):
            with log_context(job_id=job_id, stage=name):
                return _run(job_id, *args, **kwargs)

        def _run(job_id: str, *args, **kwargs):
            jobs = store()
            status = jobs.status(job_id)
            if status is None or status in jobstore.TERMINAL:
                logger.info("job %s is %s; skipping %s", job_id, status or "gone", name)
                raise Ignore()
            started = time.time()
            jobs.transition(job_id, jobstore.RUNNING)
            jobs.mark_started(job_id)
            jobs.update_stage(job_id, name, status="running", started_at=jobstore.now())
            try:
                result = fn(job_id, *args, **kwargs)
            except JobCancelled:
                logger.info("job %s ended while %s ran; stopped", job_id, name)
                jobs.update_stage(
                    job_id,
                    name,
                    status="cancelled",
                    completed_at=jobstore.now(),
                    duration_ms=int((time.time() - started) * 1000),
                )
                raise Ignore() from None
            except Exception as exc:
                message = _user_message(name, exc)
                logger.exception("job %s: %s failed", job_id, name)
                jobs.update_stage(
                    job_id,
                    name,
                    status="failed",
                    error=message,
                    completed_at=jobstore.now(),
                    duration_ms=int((time.time() - started) * 1000),
                )
                jobs.transition(job_id, jobstore.FAILED, error=message, completed_at=jobstore.now())
                raise
            jobs.update_stage(
                job_id,
                name,
                status="completed",
                completed_at=jobstore.now(),
                duration_ms=int((time.time() - started) * 1000),
            )
            if completes_job:
                jobs.transition(job_id, jobstore.COMPLETED, completed_at=jobstore.now())
            return result

        return run

    return decorate


def _user_message(name: str, exc: Exception) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"{name}: the stage ran past its time limit"
    if isinstance(exc, StageError):
        return f"{name}: {exc}"
    return f"{name}: {type(exc).__name__}: {exc}"
