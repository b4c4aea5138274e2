"""Marshmallow schemas: request (load) and response (dump) shapes, shared by REST and WebSocket."""

from __future__ import annotations

from typing import Any, cast

from marshmallow import Schema


def dump(schema: Schema, obj: Any) -> dict[str, Any]:
    """``schema.dump(obj)`` typed as the JSON object it is."""
    return cast(dict[str, Any], schema.dump(obj))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """``schema.load(data)`` typed as the mapping of fields it is (raises ValidationError)."""
    return cast(dict[str, Any], schema.load(data))
