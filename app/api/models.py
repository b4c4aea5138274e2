"""The model catalogue, from the registry."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from app.auth import require_scope
from app.schemas import dump
from app.schemas.model import ModelListSchema, ModelSchema
from app.services import models

bp = Blueprint("models", __name__, url_prefix="/v1/models")


@bp.get("")
@require_scope()
def index() -> ResponseReturnValue:
    """List every model Budgie can serve."""
    return dump(ModelListSchema(), {"data": models.list_models()})


@bp.get("/<path:model_id>")
@require_scope()
def show(model_id: str) -> ResponseReturnValue:
    """Describe one model (aliases resolve)."""
    return dump(ModelSchema(), models.get_model(model_id))
