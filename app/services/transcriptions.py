"""Submit, read, cancel and delete batch transcription jobs."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import flask
from werkzeug.datastructures import FileStorage

from app import limits
from app.auth import current_principal
from app.errors import ApiError
from app.extensions import celery, jobs, settings
from app.services.models import served_models
from core import audio, jobstore, netguard, webhooks
from core.artifacts import UPLOAD, Artifacts
from core.catalog import registry
from core.jobstore import Job
from core.pipeline import build_canvas, plan_stages, task_id
from core.storage import StorageError, is_internal_object, open_storage, scratch_root
from registry import ModelEntry, UnknownModelError

logger = logging.getLogger(__name__)


def _artifacts(job_id: str) -> Artifacts:
    return Artifacts(open_storage(settings()), job_id, scratch_root(settings()) / "api")


def resolve_model(model_id: str | None) -> ModelEntry:
    requested = model_id or settings().default_model
    try:
        return registry().resolve(requested)
    except UnknownModelError as exc:
        raise ApiError(400, str(exc), "unknown_model", {"valid_models": exc.valid}) from exc


def submit(upload: FileStorage | None, request: dict[str, Any], *, audio_url: str | None = None) -> Job:
    """Validate the model, language and audio (or its URL), store the upload and enqueue the job's chain."""
    entry = resolve_model(request.get("model"))
    if not entry.supports_language(request.get("language")):
        raise ApiError(400, entry.language_error, "language_not_supported")
    if request.get("webhook_url"):
        _check_webhook(request["webhook_url"])
    job_id = jobstore.new_job_id()
    caller = current_principal()
    limits.start_job(caller, job_id)  # 429 when the tenant has too many jobs in flight
    try:
        return _submit(job_id, upload, {**request, "model": entry.id}, entry, audio_url)
    except BaseException:  # refused or failed: the slot is not used
        limits.forget_job(caller, job_id)
        raise


def _submit(
    job_id: str, upload: FileStorage | None, request: dict[str, Any], entry: ModelEntry, audio_url: str | None
) -> Job:
    if upload is not None:
        staged = _receive(upload)
        try:
            probe = _probe(staged)
            limits.add_audio(current_principal(), probe["duration"])  # 429 past the tenant's daily audio quota
            request = {**request, "filename": display_name(upload.filename, "upload"), "probe": probe}
            return _enqueue(job_id, request, entry, staged)
        finally:
            staged.unlink(missing_ok=True)
    assert audio_url is not None
    _check_audio_url(audio_url)
    request = {**request, "audio_url": audio_url, "filename": _url_filename(audio_url)}
    return _enqueue(job_id, request, entry, None)


def _webhook_secret() -> str | None:
    """The calling key's webhook secret, else the deployment's (``BUDGIE_WEBHOOK_SECRET``)."""
    fallback = settings().webhook_secret
    return current_principal().webhook_secret or (fallback.get_secret_value() if fallback else None)


def _check_webhook(url: str) -> None:
    """At submit: an http(s) URL that the SSRF guard allows, and a secret to sign the events with."""
    try:
        netguard.check_url(url, settings().allow_private_urls)
    except netguard.UnsafeURL as exc:
        raise ApiError(400, f"webhook_url refused: {exc}", "invalid_webhook_url") from exc
    if _webhook_secret() is None:
        raise ApiError(
            400,
            "webhook_url needs a signing secret: use an API key (each has one) or set BUDGIE_WEBHOOK_SECRET",
            "invalid_webhook_url",
        )


def _receive(upload: FileStorage) -> Path:
    """Copy the upload to a local scratch file (streamed; the form parser already spooled it to disk)."""
    directory = scratch_root(settings()) / "api"
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f"upload-{uuid.uuid4().hex}"
    upload.save(staged)
    return staged


def _probe(path: Path) -> dict[str, Any]:
    try:
        probe = audio.probe(path, max_duration_s=settings().max_duration_s)
    except audio.AudioError as exc:
        raise ApiError(400, str(exc), "invalid_audio") from exc
    limit = settings().max_duration_s
    if probe.duration > limit:
        raise ApiError(400, f"Audio too long: {probe.duration:.0f}s (maximum {limit:.0f}s)", "invalid_audio")
    return {
        "duration": probe.duration,
        "sample_rate": probe.sample_rate,
        "channels": probe.channels,
        "codec": probe.codec,
    }


def _check_audio_url(url: str) -> None:
    """The cheap checks at submit (scheme, host, SSRF); the download itself happens in PREPARE."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not settings().storage_url.startswith("s3://"):
            raise ApiError(400, "s3:// audio URLs need the S3 storage backend", "invalid_audio_url")
        if not parts.netloc or not parts.path.strip("/"):
            raise ApiError(400, "an s3:// audio URL names a bucket and a key: s3://bucket/key", "invalid_audio_url")
        if is_internal_object(settings(), parts.netloc, parts.path.lstrip("/")):
            raise ApiError(400, "audio_url may not point at Budgie's own job files", "invalid_audio_url")
        return
    try:
        netguard.check_url(url, settings().allow_private_urls)
    except netguard.UnsafeURL as exc:
        raise ApiError(400, f"audio_url refused: {exc}", "invalid_audio_url") from exc


def _url_filename(url: str) -> str:
    return display_name(unquote(urlsplit(url).path.rstrip("/")), "audio")


def display_name(name: str | None, default: str) -> str:
    """The caller's file name as a label only (exports, listings): its last path component, no control
    characters, at most 200 characters. It never becomes a path; files are stored per job id."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:200] or default


def _enqueue(job_id: str, request: dict[str, Any], entry: ModelEntry, staged: Path | None) -> Job:
    """Create the job record, then store its upload (so the sweep never sees files without a record),
    then send its chain."""
    plan = plan_stages(request, entry)
    caller = current_principal()
    jobs().create(job_id, request, list(plan.stages), tenant=caller.tenant, key_id=caller.key_id)
    secret = _webhook_secret()
    if request.get("webhook_url") and secret:
        result_url = f"{flask.request.host_url.rstrip('/')}/v1/audio/transcriptions/{job_id}"
        webhooks.register(jobs(), job_id, request["webhook_url"], secret, result_url)
    if staged is not None:
        try:
            _artifacts(job_id).publish(UPLOAD, staged)
        except (StorageError, OSError) as exc:
            logger.exception("could not store the upload of %s", job_id)
            _discard(job_id)
            raise ApiError(503, "The file store is unavailable; try again shortly", "storage_unavailable") from exc
    try:
        build_canvas(celery(), job_id, request, entry, plan).apply_async()
    except Exception as exc:  # broker down: do not leave a pending job nobody will run
        logger.exception("could not enqueue %s", job_id)
        _discard(job_id)
        raise ApiError(503, "The job queue is unavailable; try again shortly") from exc
    return get(job_id)


def _discard(job_id: str) -> None:
    """Undo a submit that could not finish: the record, then its files (or leave those to the sweep)."""
    jobs().delete(job_id)
    try:
        _artifacts(job_id).remove()
    except StorageError:
        logger.exception("could not remove the files of %s now; the sweep will", job_id)


def get(job_id: str) -> Job:
    """The job, if the caller may see it: another tenant's job is as missing as one that never existed."""
    job = jobs().get(job_id)
    if job is None or not current_principal().owns(job):
        raise ApiError(404, f"Job {job_id} not found")
    return job


def follow(job_id: str, timeout_s: float, interval_s: float = 0.05) -> Iterator[Job]:
    """Yield the stored job every ``interval_s`` until it ends (the terminal job is yielded last) or
    ``timeout_s`` has passed (the last job yielded is then still pending or running)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = get(job_id)
        yield job
        if job["status"] in jobstore.TERMINAL or time.monotonic() >= deadline:
            return
        time.sleep(min(interval_s, max(deadline - time.monotonic(), 0.0)))


def wait(job_id: str, timeout_s: float) -> Job:
    """The job once it has ended, or as it is after ``timeout_s``."""
    *_, last = follow(job_id, timeout_s, interval_s=0.1)
    return last


def view(job: Job) -> dict[str, Any]:
    """Flatten a stored job into the API shape: progress, current stage and, when done, the result."""
    stages = job["stages"]
    done: float = sum(1 for s in stages if s.get("status") == "completed")
    done += sum(
        s["chunks_done"] / s["chunks_total"]
        for s in stages  # a long transcription counts in part
        if s.get("status") == "running" and s.get("chunks_total")
    )
    running = next((s["stage"] for s in stages if s.get("status") in ("running", "retrying")), None)
    if running is None and job["status"] == jobstore.RUNNING:  # between stages: the next one is queued
        running = next((s["stage"] for s in stages if s.get("status") == "pending"), None)
    out: dict[str, Any] = {
        **{k: job[k] for k in ("id", "status", "created_at", "started_at", "completed_at")},
        "error": error_object(job["error"], job.get("error_code"), job["status"]),
        "stages": [_stage_view(s) for s in stages],
        "model": job["request"].get("model"),
        "request": {k: v for k, v in job["request"].items() if k != "probe"},
        "progress": round(done / len(stages), 3) if stages else 0.0,
        "current_stage": running,
        "duration": job.get("duration") or job["request"].get("probe", {}).get("duration"),
        "tenant": job.get("tenant"),
        "key_id": job.get("key_id"),
        "webhook": job.get("webhook"),
    }
    if job["status"] == jobstore.COMPLETED and job["result"]:
        out.update(job["result"])
    elif job["status"] == jobstore.PENDING and out["model"] not in served_models():
        out["warnings"] = [
            f"No worker is serving model {out['model']} right now; "
            f"the job starts when one consumes queue transcribe.{out['model']}"
        ]
    return out


def error_object(message: str | None, code: str | None, status: str) -> dict[str, str] | None:
    """A failure as clients see it: ``{code, message}`` (records written before codes existed get a
    generic code)."""
    if not message:
        return None
    return {"code": code or ("cancelled" if status == jobstore.CANCELLED else "stage_failed"), "message": message}


def _stage_view(stage: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stage.items() if k != "error_code"}
    if stage.get("error"):
        out["error"] = error_object(stage["error"], stage.get("error_code"), stage.get("status", ""))
    return out


def list_jobs(limit: int, cursor: float | None, status: str | None, tenant: str | None = None) -> dict[str, Any]:
    """The caller's tenant's jobs; an admin sees every job, or ``tenant``'s when it names one."""
    caller = current_principal()
    if not caller.is_admin:
        tenant = caller.tenant
    found, has_more = jobs().list(limit=limit, before=cursor, status=status, tenant=tenant)
    views = [view(j) for j in found]
    return {"jobs": views, "has_more": has_more, "cursor": found[-1]["created_at"] if has_more else None}


def cancel_or_delete(job_id: str) -> tuple[dict[str, Any] | None, int]:
    """Cancel a pending/running job (revoking its tasks) or delete a finished one."""
    job = get(job_id)
    if job["status"] in jobstore.TERMINAL:
        jobs().delete(job_id)
        try:
            _artifacts(job_id).remove()
        except StorageError:  # the record is gone, so the housekeeping sweep removes the files later
            logger.exception("could not delete the files of %s now", job_id)
        return None, 204
    if jobs().transition(
        job_id, jobstore.CANCELLED, completed_at=jobstore.now(), error="cancelled by request", error_code="cancelled"
    ):
        for stage in job["stages"]:
            if stage.get("status") in ("pending", "running"):
                jobs().update_stage(job_id, stage["stage"], status="cancelled")
        celery().control.revoke([task_id(job_id, s["stage"]) for s in job["stages"]])
        webhooks.announce(celery(), jobs(), job_id)
        return view(get(job_id)), 200
    # it finished while we looked: treat as a finished job
    return cancel_or_delete(job_id)
