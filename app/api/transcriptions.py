"""Batch transcription jobs: submit, read, list, cancel/delete."""

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app.auth import require_scope
from app.errors import ApiError
from app.schemas import dump, load
from app.schemas.transcription import JobListSchema, JobSchema, ListQuerySchema, TranscriptionRequestSchema
from app.services import transcriptions
from core.metrics import JOBS_SUBMITTED

bp = Blueprint("transcriptions", __name__, url_prefix="/v1/audio/transcriptions")


@bp.post("")
@require_scope("jobs:write")
def create() -> ResponseReturnValue:
    """Submit audio for transcription: a multipart ``file``, or an ``audio_url`` (form field or JSON body)."""
    upload = request.files.get("file")
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "The JSON body must be an object")
        fields = body
    else:
        fields = request.form.to_dict()
    params = load(TranscriptionRequestSchema(), fields)
    audio_url = params.pop("audio_url", None)
    if upload is None and audio_url is None:
        raise ApiError(
            400, "Missing audio: send a multipart form field named 'file', or an 'audio_url' to download it from"
        )
    if upload is not None and audio_url is not None:
        raise ApiError(400, "Send either 'file' or 'audio_url', not both")
    job = transcriptions.submit(upload, params, audio_url=audio_url)
    JOBS_SUBMITTED.labels(job["request"]["model"]).inc()
    return {"id": job["id"], "status": job["status"], "created_at": job["created_at"]}, 201


@bp.get("")
@require_scope("jobs:read")
def index() -> ResponseReturnValue:
    """List jobs, newest first."""
    query = load(ListQuerySchema(), request.args.to_dict())
    return dump(
        JobListSchema(), transcriptions.list_jobs(query["limit"], query["cursor"], query["status"], query["tenant"])
    )


@bp.get("/<job_id>")
@require_scope("jobs:read")
def show(job_id: str) -> ResponseReturnValue:
    """Return a job's status and, when completed, its transcript."""
    return dump(JobSchema(), transcriptions.view(transcriptions.get(job_id)))


@bp.delete("/<job_id>")
@require_scope("jobs:write")
def destroy(job_id: str) -> ResponseReturnValue:
    """Cancel a pending or running job; delete a finished one."""
    job, status = transcriptions.cancel_or_delete(job_id)
    if job is None:
        return "", status
    return dump(JobSchema(), job), status
