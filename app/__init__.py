"""Budgie's HTTP API: ``create_app()`` builds the Flask app (``flask --app app run``)."""
from __future__ import annotations

import logging

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment, then ``test_config``."""
    from app import config, errors, extensions, metrics
    from app.api import exports, health, models, transcriptions
    from app.ws import stream

    app = Flask(__name__)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    errors.init_app(app)
    extensions.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(transcriptions.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(health.bp)
    stream.init_app(app)  # WS /v1/audio/transcriptions/stream, relayed to a streaming worker
    return app
