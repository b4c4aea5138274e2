"""The model catalogue, from the registry."""
from flask import Blueprint

from app.schemas.model import ModelListSchema, ModelSchema
from app.services import models

bp = Blueprint("models", __name__, url_prefix="/v1/models")


@bp.get("")
def index():
    """List every model Budgie can serve."""
    return ModelListSchema().dump({"data": models.list_models()})


@bp.get("/<path:model_id>")
def show(model_id: str):
    """Describe one model (aliases resolve)."""
    return ModelSchema().dump(models.get_model(model_id))
