"""``/openai/v1``: audio transcriptions and translations, and the model list, in OpenAI's shapes.

A request submits an ordinary Budgie job (``app.services.transcriptions.submit``: the same
validation, audio probe and Celery chain as ``POST /v1/audio/transcriptions``) and waits for it at
most ``BUDGIE_OPENAI_WAIT_S``; past that the answer is a 504 that names the native job id, whose
result stays available under ``/v1/audio/transcriptions/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage

from app.auth import require_scope
from app.errors import ApiError
from app.extensions import settings
from app.openai import errors, models, render
from app.openai.schemas import TranscriptionFormSchema, TranslationFormSchema, form_data
from app.schemas import load
from app.schemas.transcription import TranscriptionRequestSchema
from app.services import transcriptions
from core import jobstore
from core.catalog import registry
from core.jobstore import Job
from core.metrics import JOBS_SUBMITTED

bp = Blueprint("openai", __name__, url_prefix="/openai/v1")

NATIVE_EXTRAS = ("speaker_detection", "num_speakers", "min_speakers", "max_speakers")


def _upload() -> FileStorage:
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(
            400, "Missing 'file': send the audio as a multipart form field named 'file'", details={"file": []}
        )
    return upload


def _submit(upload: FileStorage, form: dict[str, Any]) -> Job:
    """Submit a native job for the OpenAI request (the native schema validates the Budgie extras)."""
    native = {"model": models.budgie_model(form.get("model")), "language": form.get("language") or "auto"}
    native.update({k: form[k] for k in NATIVE_EXTRAS if form.get(k) is not None})
    job = transcriptions.submit(upload, load(TranscriptionRequestSchema(), native))
    JOBS_SUBMITTED.labels(job["request"]["model"]).inc()
    return job


def _unfinished(job: Job) -> ApiError:
    """The error for a job that did not complete: failed, cancelled, or still running after the wait."""
    job_id, details = job["id"], {"job_id": job["id"]}
    if job["status"] == jobstore.FAILED:
        return ApiError(500, f"Transcription job {job_id} failed: {job['error']}", "job_failed", details)
    if job["status"] == jobstore.CANCELLED:
        return ApiError(409, f"Transcription job {job_id} was cancelled", "job_cancelled", details)
    return ApiError(
        504,
        f"Transcription job {job_id} is still {job['status']} after {settings().openai_wait_s:g}s; "
        f"its result will be at /v1/audio/transcriptions/{job_id}",
        "job_timeout",
        details,
    )


def _respond(job: Job, form: dict[str, Any], task: str) -> ResponseReturnValue:
    job = transcriptions.wait(job["id"], settings().openai_wait_s)
    if job["status"] != jobstore.COMPLETED or job["result"] is None:
        raise _unfinished(job)
    body, content_type = render.body(
        dict(job["result"]), form["response_format"], task, form.get("timestamp_granularities") or []
    )
    headers = {"x-budgie-job-id": job["id"]}
    if isinstance(body, dict):
        return body, 200, headers
    return Response(body, content_type=content_type, headers=headers)


def _partial_text(job: Job) -> str:
    """The words the transcribe stage has decoded so far (it rewrites this after each chunk batch)."""
    stage: dict[str, Any] = next((dict(s) for s in job["stages"] if s["stage"] == "transcribe"), {})
    return str(stage.get("text") or "")


def _events(job_id: str) -> Iterator[str]:
    """``transcript.text.delta`` for each newly decoded piece of text, then ``transcript.text.done``."""
    sent = ""
    job = transcriptions.get(job_id)
    for job in transcriptions.follow(job_id, settings().openai_wait_s):
        partial = _partial_text(job)
        if len(partial) > len(sent) and partial.startswith(sent):
            yield render.delta(partial[len(sent) :])
            sent = partial
    if job["status"] != jobstore.COMPLETED or job["result"] is None:
        exc = _unfinished(job)
        yield render.error_event(errors.body(exc.status, exc.message, exc.code, exc.details))
        return
    text = job["result"]["text"]
    if len(text) > len(sent) and text.startswith(sent):
        yield render.delta(text[len(sent) :])
    yield render.done(text)


@bp.post("/audio/transcriptions")
@require_scope("jobs:write")
def transcribe() -> ResponseReturnValue:
    """Transcribe a file (OpenAI's ``audio.transcriptions.create``)."""
    upload = _upload()
    form = load(TranscriptionFormSchema(), form_data(request.form))
    job = _submit(upload, form)
    if form["stream"]:
        return Response(
            stream_with_context(_events(job["id"])),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "x-budgie-job-id": job["id"]},
        )
    return _respond(job, form, "transcribe")


@bp.post("/audio/translations")
@require_scope("jobs:write")
def translate() -> ResponseReturnValue:
    """Translate to English (OpenAI's ``audio.translations.create``): Budgie's models do not translate, so
    only an English-only model qualifies, and its transcript already is the English text."""
    upload = _upload()
    form = load(TranslationFormSchema(), form_data(request.form))
    model = models.budgie_model(form.get("model"))
    entry = transcriptions.resolve_model(model)
    if not entry.english_only:
        raise ApiError(
            400,
            f"Model {entry.id} does not translate; translations are answered only by English-only models "
            f"(English audio in, its transcript out): {', '.join(e.id for e in registry().all() if e.english_only)}",
            "translation_not_supported",
        )
    form["language"] = "en"
    return _respond(_submit(upload, form), form, "translate")


@bp.get("/models")
@require_scope()
def list_models() -> ResponseReturnValue:
    """The models, in OpenAI's list shape."""
    return {"object": "list", "data": models.list_models()}


@bp.get("/models/<path:model_id>")
@require_scope()
def get_model(model_id: str) -> ResponseReturnValue:
    """One model (an alias or an OpenAI name resolves)."""
    return models.get_model(model_id)
