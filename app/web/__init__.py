"""The web page at ``/``: static HTML and plain JavaScript over the public API (no build step).

*Live* streams the microphone to ``WS /v1/audio/transcriptions/stream`` (Opus in WebM from
MediaRecorder, or 16-bit PCM from an AudioWorklet); *Files* submits uploads to the batch API,
follows each job's stages and shows the transcript with speakers, playback and downloads. The page
and its assets are public; the API calls it makes carry the key typed into the page.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory
from flask.typing import ResponseReturnValue

from app.auth import public

STATIC = Path(__file__).parent / "static"
bp = Blueprint("web", __name__)


@bp.get("/")
@public
def index() -> ResponseReturnValue:
    """The page itself."""
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/web/<path:name>")
@public
def asset(name: str) -> ResponseReturnValue:
    """The page's scripts and style sheet."""
    return send_from_directory(STATIC, name, max_age=0)
