"""``GET /v1/usage``: the caller's tenant's quota counts next to its limits."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from app import limits
from app.auth import current_principal, require_scope

bp = Blueprint("usage", __name__, url_prefix="/v1/usage")


@bp.get("")
@require_scope()
def show() -> ResponseReturnValue:
    """Requests this minute, active jobs, open streams and today's audio seconds of the caller's tenant."""
    return limits.usage(current_principal())
