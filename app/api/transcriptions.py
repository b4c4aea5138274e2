"""Batch transcription jobs: submit, read, list, cancel/delete."""

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app.errors import ApiError
from app.metrics import JOBS_SUBMITTED
from app.schemas import dump, load
from app.schemas.transcription import JobListSchema, JobSchema, ListQuerySchema, TranscriptionRequestSchema
from app.services import transcriptions

bp = Blueprint("transcriptions", __name__, url_prefix="/v1/audio/transcriptions")


@bp.post("")
def create() -> ResponseReturnValue:
    """Submit an audio file for transcription."""
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "Missing 'file': send the audio as a multipart form field named 'file'")
    params = load(TranscriptionRequestSchema(), request.form.to_dict())
    job = transcriptions.submit(upload, params)
    JOBS_SUBMITTED.labels(job["request"]["model"]).inc()
    return {"id": job["id"], "status": job["status"], "created_at": job["created_at"]}, 201


@bp.get("")
def index() -> ResponseReturnValue:
    """List jobs, newest first."""
    query = load(ListQuerySchema(), request.args.to_dict())
    return dump(JobListSchema(), transcriptions.list_jobs(query["limit"], query["cursor"], query["status"]))


@bp.get("/<job_id>")
def show(job_id: str) -> ResponseReturnValue:
    """Return a job's status and, when completed, its transcript."""
    return dump(JobSchema(), transcriptions.view(transcriptions.get(job_id)))


@bp.delete("/<job_id>")
def destroy(job_id: str) -> ResponseReturnValue:
    """Cancel a pending or running job; delete a finished one."""
    job, status = transcriptions.cancel_or_delete(job_id)
    if job is None:
        return "", status
    return dump(JobSchema(), job), status
