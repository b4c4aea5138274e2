"""A live API for tests that drive real HTTP clients (the OpenAI SDK, the budgie CLI): the real app on a
threaded werkzeug server on a free loopback port, talking to the test Redis and the test Celery worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from budgie.localstack import free_port


@contextmanager
def serve(**settings: Any) -> Iterator[str]:
    """``with serve(default_model=...) as base_url:`` the app built from the test settings with ``settings``."""
    from werkzeug.serving import make_server

    from app import create_app
    from tests.conftest import test_settings

    app = create_app(test_settings(**settings), testing=True)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
