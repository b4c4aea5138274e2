"""Oversized request lines and headers answered as JSON 414/431, like every other error.

gunicorn's own limits answer with an HTML page, so ``gunicorn.conf.py`` raises them to gunicorn's
maxima (1 MB request line, 64 KB header field) and this check, which runs before authentication,
applies the limits clients are told about.
"""

from __future__ import annotations

from flask import Flask, request
from flask.typing import ResponseReturnValue

from app.errors import error_response

MAX_REQUEST_LINE = 8190  # the request target (path and query), as gunicorn's default
MAX_HEADER_FIELD = 8190  # one header line
MAX_HEADERS_TOTAL = 32768  # all headers together


def init_app(app: Flask) -> None:
    app.before_request(_check)


def _check() -> ResponseReturnValue | None:
    target = request.full_path
    if len(target) > MAX_REQUEST_LINE:
        return error_response(414, f"Request URL too long: the limit is {MAX_REQUEST_LINE} characters")
    sizes = [len(name) + len(value) + 2 for name, value in request.headers.items()]
    if any(size > MAX_HEADER_FIELD for size in sizes) or sum(sizes) > MAX_HEADERS_TOTAL:
        return error_response(
            431, f"Request headers too large: at most {MAX_HEADER_FIELD} bytes each, {MAX_HEADERS_TOTAL} in all"
        )
    return None
