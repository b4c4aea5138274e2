"""Transcript exports: ``GET /v1/audio/transcriptions/{id}/export/{fmt}`` for txt, json, srt and vtt."""

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from marshmallow import RAISE, Schema, fields, validate

from app.auth import require_scope
from app.schemas import load
from app.services import exports, transcriptions

bp = Blueprint("exports", __name__, url_prefix="/v1/audio/transcriptions")


class ExportQuerySchema(Schema):
    """Subtitle rules a caller may override (defaults: 42 characters, 2 lines, 6 s per cue)."""

    class Meta:
        unknown = RAISE

    max_line_length = fields.Integer(
        load_default=exports.Options.max_line_length, validate=validate.Range(min=10, max=200)
    )
    max_lines = fields.Integer(load_default=exports.Options.max_lines, validate=validate.Range(min=1, max=10))
    max_cue_duration = fields.Float(
        load_default=exports.Options.max_cue_duration, validate=validate.Range(min=0.5, max=60)
    )
    include_speakers = fields.Boolean(load_default=exports.Options.include_speakers)


@bp.get("/<job_id>/export/<fmt>")
@require_scope("jobs:read")
def export(job_id: str, fmt: str) -> ResponseReturnValue:
    """Download a completed job's transcript as txt, json, srt or vtt."""
    options = exports.Options(**load(ExportQuerySchema(), request.args.to_dict()))
    job = transcriptions.get(job_id)
    body, mimetype = exports.export(job, fmt.lower(), options)
    return Response(
        body, content_type=mimetype, headers={"Content-Disposition": f'attachment; filename="{job_id}.{fmt.lower()}"'}
    )
