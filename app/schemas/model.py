"""Schemas for the model catalogue."""

from marshmallow import Schema, fields


class CapabilitiesSchema(Schema):
    languages = fields.List(fields.String())
    streaming = fields.Boolean()
    streaming_mode = fields.String()
    word_timestamps = fields.Boolean()
    decoder = fields.String()
    chunk_ms = fields.List(fields.Integer())
    endpointing = fields.List(fields.String())
    punctuation = fields.Boolean()


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
    decoder = fields.String(metadata={"description": "the checkpoint's main head: rnnt, tdt or ctc"})
    head = fields.String(allow_none=True, metadata={"description": "hybrids: the head served (transducer or ctc)"})
    decodes_with = fields.String(metadata={"description": "the decoder Budgie runs: rnnt, tdt or ctc"})
    att_context_sizes = fields.List(
        fields.List(fields.Integer()), metadata={"description": "cache-aware: trained [left, right] contexts"}
    )
    chunk_ms = fields.List(fields.Integer(), metadata={"description": "streaming chunk per trained context"})
    endpointing = fields.List(fields.String(), metadata={"description": "what ends a streamed utterance"})
    eou_token = fields.String(allow_none=True)
    punctuation = fields.Boolean()
    capabilities = fields.Nested(CapabilitiesSchema)
    available = fields.Boolean()
    loaded = fields.Boolean()
    state = fields.String()


class ModelListSchema(Schema):
    object = fields.Constant("list")
    data = fields.List(fields.Nested(ModelSchema))
