"""The multipart form fields of OpenAI's audio endpoints, as Budgie accepts them.

``prompt`` and ``temperature`` are accepted for compatibility and ignored: an RNNT decodes greedily
and has no text prompt. ``include[]`` and ``chunking_strategy`` are accepted and ignored too.
``speaker_detection``, ``num_speakers``, ``min_speakers`` and ``max_speakers`` are Budgie extras
(validated by the native schema).
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import MultiDict

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
STREAMABLE_FORMATS = ("json", "text")
GRANULARITIES = ("word", "segment")


class TranslationFormSchema(Schema):
    """``POST /openai/v1/audio/translations``."""

    class Meta:
        unknown = RAISE

    model = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    prompt = fields.String(load_default=None, metadata={"description": "accepted; RNNT decoding ignores it"})
    temperature = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=1),
        metadata={"description": "accepted; decoding is greedy"},
    )
    response_format = fields.String(load_default="json", validate=validate.OneOf(RESPONSE_FORMATS))


class TranscriptionFormSchema(TranslationFormSchema):
    """``POST /openai/v1/audio/transcriptions``."""

    language = fields.String(load_default=None, metadata={"description": "ISO-639-1 code such as 'en'"})
    timestamp_granularities = fields.List(
        fields.String(validate=validate.OneOf(GRANULARITIES)),
        data_key="timestamp_granularities[]",
        load_default=list,
        metadata={"description": "word and/or segment; only with response_format=verbose_json"},
    )
    stream = fields.Boolean(load_default=False)
    include = fields.List(fields.String(), data_key="include[]", load_default=list, metadata={"description": "ignored"})
    chunking_strategy = fields.String(load_default=None, metadata={"description": "ignored"})
    speaker_detection = fields.String(load_default=None, metadata={"description": "Budgie extra: none or diarize"})
    num_speakers = fields.Integer(load_default=None, metadata={"description": "Budgie extra"})
    min_speakers = fields.Integer(load_default=None, metadata={"description": "Budgie extra"})
    max_speakers = fields.Integer(load_default=None, metadata={"description": "Budgie extra"})

    @validates_schema
    def _combinations(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["timestamp_granularities"] and data["response_format"] != "verbose_json":
            raise ValidationError(
                "timestamp_granularities requires response_format=verbose_json", "timestamp_granularities[]"
            )
        if data["stream"] and data["response_format"] not in STREAMABLE_FORMATS:
            raise ValidationError("stream=true works with response_format json or text", "stream")


def form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form as a dict for the schema: ``name[]`` fields keep every value (a bare ``name`` counts too)."""
    data: dict[str, Any] = {}
    for key in form:
        if key.endswith("[]"):
            data.setdefault(key, []).extend(form.getlist(key))
        elif f"{key}[]" in ("timestamp_granularities[]", "include[]"):
            data.setdefault(f"{key}[]", []).extend(form.getlist(key))
        else:
            data[key] = form[key]
    return data


# ---------------------------------------------------------------- response shapes (for the OpenAPI spec)


class UsageSchema(Schema):
    type = fields.Constant("duration", required=True)
    seconds = fields.Integer(required=True)


class TranscriptionSchema(Schema):
    """``response_format=json``."""

    text = fields.String(required=True)
    usage = fields.Nested(UsageSchema)


class VerboseWordSchema(Schema):
    word = fields.String(required=True)
    start = fields.Float(required=True)
    end = fields.Float(required=True)
    speaker = fields.String(metadata={"description": "with speaker_detection=diarize"})


class VerboseSegmentSchema(Schema):
    id = fields.Integer(required=True)
    seek = fields.Integer(required=True)
    start = fields.Float(required=True)
    end = fields.Float(required=True)
    text = fields.String(required=True)
    tokens = fields.List(fields.Integer(), required=True)
    temperature = fields.Float(required=True)
    avg_logprob = fields.Float(required=True)
    compression_ratio = fields.Float(required=True)
    no_speech_prob = fields.Float(required=True)
    speaker = fields.String(metadata={"description": "with speaker_detection=diarize"})


class VerboseTranscriptionSchema(Schema):
    """``response_format=verbose_json``."""

    task = fields.String(required=True, validate=validate.OneOf(("transcribe", "translate")))
    language = fields.String(required=True)
    duration = fields.Float(required=True)
    text = fields.String(required=True)
    segments = fields.List(fields.Nested(VerboseSegmentSchema))
    words = fields.List(fields.Nested(VerboseWordSchema))
    usage = fields.Nested(UsageSchema)


class OpenAIModelSchema(Schema):
    id = fields.String(required=True)
    object = fields.Constant("model", required=True)
    created = fields.Integer(required=True)
    owned_by = fields.String(required=True)


class OpenAIModelListSchema(Schema):
    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(OpenAIModelSchema), required=True)
