"""Schemas for batch transcription jobs."""

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

GRANULARITIES = ("word", "segment", "none")
SPEAKER_MODES = ("none", "diarize")
SPEAKER_RANGE = validate.Range(min=1, max=32)


class TranscriptionRequestSchema(Schema):
    """The form fields (or JSON body) of ``POST /v1/audio/transcriptions`` (the file travels separately)."""

    class Meta:
        unknown = RAISE

    model = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    audio_url = fields.String(load_default=None, validate=validate.Length(min=1, max=2048))
    webhook_url = fields.String(load_default=None, validate=validate.Length(min=1, max=2048))
    """Instead of ``file``: http(s) (or ``s3://`` on the S3 backend) URL PREPARE downloads the audio from."""
    language = fields.String(
        load_default="auto",
        validate=validate.Regexp(
            r"^(auto|[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?)$", error="must be 'auto' or a language code such as 'en'"
        ),
    )
    timestamps_granularity = fields.String(load_default="word", validate=validate.OneOf(GRANULARITIES))
    speaker_detection = fields.String(load_default="none", validate=validate.OneOf(SPEAKER_MODES))
    num_speakers = fields.Integer(load_default=None, validate=SPEAKER_RANGE)
    min_speakers = fields.Integer(load_default=None, validate=SPEAKER_RANGE)
    max_speakers = fields.Integer(load_default=None, validate=SPEAKER_RANGE)

    @validates_schema
    def _speaker_bounds(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high, num = data.get("min_speakers"), data.get("max_speakers"), data.get("num_speakers")
        if low is not None and high is not None and low > high:
            raise ValidationError("min_speakers must not exceed max_speakers", "min_speakers")
        if num is not None and ((low is not None and num < low) or (high is not None and num > high)):
            raise ValidationError("num_speakers must lie between min_speakers and max_speakers", "num_speakers")


class ListQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.Float(load_default=None)
    status = fields.String(
        load_default=None, validate=validate.OneOf(("pending", "running", "completed", "failed", "cancelled"))
    )
    tenant = fields.String(load_default=None, validate=validate.Length(min=1, max=64))  # admins only


class WordSchema(Schema):
    text = fields.String()
    start = fields.Float()
    end = fields.Float()
    confidence = fields.Float(allow_none=True)
    speaker = fields.String(allow_none=True)


class SegmentSchema(Schema):
    id = fields.Integer()
    start = fields.Float()
    end = fields.Float()
    text = fields.String()
    speaker = fields.String(allow_none=True)
    words = fields.List(fields.Nested(WordSchema))


class JobErrorSchema(Schema):
    """Why a job or stage failed: a stable ``code`` and a ``message`` for people (no server internals)."""

    code = fields.String()
    message = fields.String()


class StageSchema(Schema):
    stage = fields.String()
    status = fields.String()  # pending, running, retrying (its worker died; re-enqueued), completed, failed, cancelled
    started_at = fields.Float(allow_none=True)
    completed_at = fields.Float(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    chunks_done = fields.Integer()  # transcribe: pieces of a long file decoded so far ...
    chunks_total = fields.Integer()  # ... out of this many
    attempts = fields.Integer()  # how many times a worker started this stage (more than 1 after a crash)
    retried_at = fields.Float(allow_none=True)


class JobSchema(Schema):
    """A job as returned by GET; result fields appear once the job has completed."""

    id = fields.String()
    status = fields.String()
    model = fields.String()
    created_at = fields.Float()
    started_at = fields.Float(allow_none=True)
    completed_at = fields.Float(allow_none=True)
    progress = fields.Float()
    current_stage = fields.String(allow_none=True)
    stages = fields.List(fields.Nested(StageSchema))
    error = fields.Nested(JobErrorSchema, allow_none=True)
    request = fields.Dict()
    text = fields.String()
    language = fields.String()
    duration = fields.Float(allow_none=True)
    segments = fields.List(fields.Nested(SegmentSchema))
    words = fields.List(fields.Nested(WordSchema))
    speakers = fields.List(fields.String())
    warnings = fields.List(fields.String())
    tenant = fields.String(allow_none=True)
    key_id = fields.String(allow_none=True)
    webhook = fields.Dict(
        allow_none=True
    )  # {url, result_url, delivered, attempts: [{attempt, at, status_code, error}]}


class JobSummarySchema(Schema):
    id = fields.String()
    status = fields.String()
    model = fields.String()
    created_at = fields.Float()
    completed_at = fields.Float(allow_none=True)
    duration = fields.Float(allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)


class JobListSchema(Schema):
    jobs = fields.List(fields.Nested(JobSummarySchema))
    cursor = fields.Float(allow_none=True)
    has_more = fields.Boolean()
