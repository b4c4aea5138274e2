"""The API description: ``/openapi.json`` (generated, see app.openapi) and ``/docs`` (Swagger UI, served
from the swagger-ui-bundle package, so the page works without internet access)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from app import openapi
from app.auth import public

bp = Blueprint("docs", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Budgie API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", deepLinking: true});</script>
</body></html>
"""


@bp.get("/openapi.json")
@public
def openapi_json() -> ResponseReturnValue:
    spec = current_app.extensions.get("budgie.openapi")
    if spec is None:
        spec = current_app.extensions["budgie.openapi"] = openapi.build(current_app)
    return spec


@bp.get("/docs")
@public
def page() -> ResponseReturnValue:
    return Response(PAGE, content_type="text/html; charset=utf-8")


@bp.get("/docs/assets/<path:name>")
@public
def asset(name: str) -> ResponseReturnValue:
    return send_from_directory(swagger_ui_path, name)
