"""Schemas for the model catalogue."""

from marshmallow import Schema, fields


class CapabilitiesSchema(Schema):
    languages = fields.List(fields.String())
    streaming = fields.Boolean()
    streaming_mode = fields.String()
    word_timestamps = fields.Boolean()


class ModelSchema(Schema):
    id = fields.String()
    object = fields.Constant("model")
    name = fields.String()
    engine = fields.String()
    engine_model = fields.String()
    tier = fields.String()
    languages = fields.List(fields.String())
    streaming = fields.Boolean()
    streaming_mode = fields.String()
    vram_gb = fields.Float()
    word_timestamps = fields.Boolean()
    supports_cpu = fields.Boolean()
    aliases = fields.List(fields.String())
    source = fields.String()
    capabilities = fields.Nested(CapabilitiesSchema)
    available = fields.Boolean()
    loaded = fields.Boolean()
    state = fields.String()


class ModelListSchema(Schema):
    object = fields.Constant("list")
    data = fields.List(fields.Nested(ModelSchema))
