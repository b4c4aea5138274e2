"""Budgie's HTTP API: ``create_app()`` builds the Flask app (``gunicorn 'app:create_app()'``)."""

from __future__ import annotations

from flask import Flask

from core.settings import Settings


def create_app(settings: Settings | None = None, *, testing: bool = False) -> Flask:
    """Build the app from ``settings`` (default: the process's settings, read from the environment)."""
    from app import auth, errors, extensions, limits, metrics, request_limits, web
    from app.api import docs, exports, health, models, transcriptions, usage
    from app.openai import routes as openai_routes
    from app.ws import stream
    from core import logs
    from core.settings import get_settings

    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(TESTING=testing, MAX_CONTENT_LENGTH=settings.max_upload_bytes)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if not testing:
        logs.configure(settings.log_format, settings.log_level)

    extensions.init_app(app, settings)
    errors.init_app(app)
    request_limits.init_app(app)  # JSON 414/431, before anything reads the request
    metrics.init_app(app)
    auth.init_app(app)  # every route needs a key unless it says otherwise (docs/security.md)
    limits.init_app(app)  # requests per minute per key (flask-limiter on Redis) and tenant quotas
    app.register_blueprint(transcriptions.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(usage.bp)
    app.register_blueprint(openai_routes.bp)  # /openai/v1: the OpenAI-compatible surface
    app.register_blueprint(docs.bp)  # /openapi.json and /docs
    app.register_blueprint(web.bp)  # the web page at / (Live and Files tabs)
    stream.init_app(app)  # WS /v1/audio/transcriptions/stream, relayed to a streaming worker
    return app
