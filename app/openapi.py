"""The OpenAPI 3 description of both surfaces, generated with apispec from the marshmallow schemas.

Routes stay plain Flask views: the paths come from the app's URL map and each view's docstring, and
``OPERATIONS`` adds, per endpoint, what the map cannot know (parameters, bodies, responses), naming the
same schemas the views load and dump. ``tests/integration/test_openapi.py`` checks that every route is
described and fuzzes the live app against this spec.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields

from app.api.exports import ExportQuerySchema
from app.openai import schemas as openai_schemas
from app.schemas.error import ErrorSchema, OpenAIErrorSchema
from app.schemas.model import ModelListSchema, ModelSchema
from app.schemas.transcription import JobListSchema, JobSchema, ListQuerySchema, TranscriptionRequestSchema

UNDOCUMENTED = {"static", "docs.openapi_json", "docs.page", "docs.asset", "web.index", "web.asset"}
WEBSOCKET_RULES = {"/v1/audio/transcriptions/stream"}  # described in docs/streaming.md (not HTTP)

AUDIO_FILE = {"type": "string", "format": "binary", "description": "any audio FFmpeg decodes"}


class TranscriptionUploadSchema(TranscriptionRequestSchema):
    file = fields.Raw(required=True, metadata=AUDIO_FILE)


class TranscriptionUrlSchema(TranscriptionRequestSchema):
    """The JSON body alternative: the audio is downloaded from ``audio_url`` (docs/api.md)."""

    audio_url = fields.String(required=True, metadata={"description": "http(s):// (or s3:// on the S3 backend)"})


class OpenAITranscriptionUploadSchema(openai_schemas.TranscriptionFormSchema):
    file = fields.Raw(required=True, metadata=AUDIO_FILE)


class OpenAITranslationUploadSchema(openai_schemas.TranslationFormSchema):
    file = fields.Raw(required=True, metadata=AUDIO_FILE)


class JobCreatedSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.Float(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)
    redis = fields.String()


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or unavailable"})
    missing = fields.List(fields.String(), metadata={"description": "what is missing (redis, worker:<queue>)"})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class UsageSchema(Schema):
    tenant = fields.String(required=True)
    key_id = fields.String(allow_none=True)
    enforced = fields.Boolean(required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    usage = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*statuses: int, schema: type[Schema] = ErrorSchema) -> dict[str, Any]:
    return {str(s): {"description": "error", "content": _json(schema)} for s in statuses}


def _openai_errors(*statuses: int) -> dict[str, Any]:
    return _errors(*statuses, schema=OpenAIErrorSchema)


def _multipart(schema: type[Schema]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _path_param(name: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"in": "path", "name": name, "required": True, "schema": schema, "description": description}


JOB_ID = _path_param("job_id", "a job id (job_…)")
MODEL_ID = _path_param("model_id", "a model id or alias")
TEXT_FORMATS = {
    "text/plain": {"schema": {"type": "string"}},
    "application/x-subrip": {"schema": {"type": "string"}},
    "text/vtt": {"schema": {"type": "string"}},
}
OPENAI_TRANSCRIPT: dict[str, Any] = {
    "description": "the transcript in response_format (x-budgie-job-id names the native job)",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Transcription"},
                    {"$ref": "#/components/schemas/VerboseTranscription"},
                ]
            }
        },
        **TEXT_FORMATS,
    },
}

OPERATIONS: dict[str, dict[str, Any]] = {
    "transcriptions.create": {
        "tags": ["native"],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": TranscriptionUploadSchema},
                **_json(TranscriptionUrlSchema),
            },
        },
        "responses": {
            "201": {"description": "job created", "content": _json(JobCreatedSchema)},
            **_errors(400, 413, 503),
        },
    },
    "transcriptions.index": {
        "tags": ["native"],
        "parameters": [{"in": "query", "schema": ListQuerySchema}],
        "responses": {"200": {"description": "jobs, newest first", "content": _json(JobListSchema)}, **_errors(400)},
    },
    "transcriptions.show": {
        "tags": ["native"],
        "parameters": [JOB_ID],
        "responses": {"200": {"description": "the job", "content": _json(JobSchema)}, **_errors(404)},
    },
    "transcriptions.destroy": {
        "tags": ["native"],
        "parameters": [JOB_ID],
        "responses": {
            "200": {"description": "cancelled", "content": _json(JobSchema)},
            "204": {"description": "deleted"},
            **_errors(404),
        },
    },
    "exports.export": {
        "tags": ["native"],
        "parameters": [
            JOB_ID,
            _path_param("fmt", "export format", ["txt", "json", "srt", "vtt"]),
            {"in": "query", "schema": ExportQuerySchema},
        ],
        "responses": {
            "200": {
                "description": "the transcript",
                "content": {**TEXT_FORMATS, "application/json": {"schema": {"type": "object"}}},
            },
            **_errors(400, 404),
        },
    },
    "models.index": {
        "tags": ["native"],
        "responses": {"200": {"description": "the catalogue", "content": _json(ModelListSchema)}},
    },
    "models.show": {
        "tags": ["native"],
        "parameters": [MODEL_ID],
        "responses": {"200": {"description": "the model", "content": _json(ModelSchema)}, **_errors(404)},
    },
    "health.health": {
        "tags": ["operations"],
        "responses": {
            "200": {"description": "healthy", "content": _json(HealthSchema)},
            "503": {"description": "Redis unreachable", "content": _json(HealthSchema)},
        },
    },
    "health.ready": {
        "tags": ["operations"],
        "responses": {
            "200": {"description": "ready", "content": _json(ReadySchema)},
            "503": {"description": "Redis or a worker for the default model missing", "content": _json(ReadySchema)},
        },
    },
    "usage.show": {
        "tags": ["native"],
        "responses": {"200": {"description": "the tenant's counts and limits", "content": _json(UsageSchema)}},
    },
    "health.metrics": {
        "tags": ["operations"],
        "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
        },
    },
    "openai.transcribe": {
        "tags": ["openai"],
        "requestBody": _multipart(OpenAITranscriptionUploadSchema),
        "responses": {
            "200": {
                **OPENAI_TRANSCRIPT,
                "content": {
                    **OPENAI_TRANSCRIPT["content"],
                    "text/event-stream": {
                        "schema": {"type": "string", "description": "transcript.text.delta … transcript.text.done"}
                    },
                },
            },
            **_openai_errors(400, 409, 413, 500, 503, 504),
        },
    },
    "openai.translate": {
        "tags": ["openai"],
        "requestBody": _multipart(OpenAITranslationUploadSchema),
        "responses": {"200": OPENAI_TRANSCRIPT, **_openai_errors(400, 409, 413, 500, 503, 504)},
    },
    "openai.list_models": {
        "tags": ["openai"],
        "responses": {"200": {"description": "the models", "content": _json(openai_schemas.OpenAIModelListSchema)}},
    },
    "openai.get_model": {
        "tags": ["openai"],
        "parameters": [MODEL_ID],
        "responses": {
            "200": {"description": "the model", "content": _json(openai_schemas.OpenAIModelSchema)},
            **_openai_errors(404),
        },
    },
}


PUBLIC = {"health.health", "health.ready", "health.metrics"}
# any keyed endpoint: no/bad key, missing scope, over a quota, Redis down. (No per-operation ``security``:
# with BUDGIE_AUTH=off a request without a key is served, and the spec describes both deployments.)
GUARDED = (401, 403, 429, 503)
UNDESCRIBED = {"responses": {"200": {"description": "not described yet: see docs/api.md"}}}


def _operation(app: Flask, endpoint: str, path: str) -> dict[str, Any]:
    """The endpoint's entry in ``OPERATIONS`` plus what every keyed endpoint may answer. An endpoint missing
    from ``OPERATIONS`` gets a bare entry (the spec must never fail to build; a test catches the gap)."""
    operation = {"summary": _summary(app, endpoint), "operationId": endpoint, **OPERATIONS.get(endpoint, UNDESCRIBED)}
    if endpoint not in PUBLIC:
        schema = OpenAIErrorSchema if path.startswith("/openai/") else ErrorSchema
        operation["responses"] = {**_errors(*GUARDED, schema=schema), **operation["responses"]}
    return operation


def _openapi_path(rule: str) -> str:
    """``/v1/x/<job_id>`` and ``/v1/models/<path:model_id>`` → ``/v1/x/{job_id}``, ``/v1/models/{model_id}``."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _summary(app: Flask, endpoint: str) -> str:
    doc = (app.view_functions[endpoint].__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ")


def build(app: Flask) -> dict[str, Any]:
    """The spec for ``app``'s routes (every documented endpoint must appear in ``OPERATIONS``)."""
    spec = APISpec(
        title="Budgie",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Self-hosted Parakeet speech-to-text. The native asynchronous API lives under /v1; the "
            "OpenAI-compatible surface under /openai/v1. Streaming is a WebSocket: see docs/streaming.md."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "description": "a Budgie API key"})
    spec.components.schema("Transcription", schema=openai_schemas.TranscriptionSchema)
    spec.components.schema("VerboseTranscription", schema=openai_schemas.VerboseTranscriptionSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED or rule.rule in WEBSOCKET_RULES:
            continue
        path = _openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule.endpoint, path)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
