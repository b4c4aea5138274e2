"""The error bodies: Budgie's own and, under ``/openai/v1``, OpenAI's."""

from marshmallow import Schema, fields


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "the field at fault, valid values, ..."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class OpenAIErrorDetailSchema(Schema):
    message = fields.String(required=True)
    type = fields.String(required=True)
    param = fields.String(required=True, allow_none=True)
    code = fields.String(required=True, allow_none=True)
    job_id = fields.String(metadata={"description": "the native job, when one was submitted"})


class OpenAIErrorSchema(Schema):
    error = fields.Nested(OpenAIErrorDetailSchema, required=True)
