"""Structured logs: one JSON object per line, carrying the job id or session id being worked on.

The ids live in context variables, so every line logged while a stage runs (or while a streaming
session's thread works) carries them, including lines from libraries. Every process calls
:func:`configure` once at start-up (the API factory, the Celery ``setup_logging`` signal, the
streaming worker's ``main``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("job_id", "session_id", "stage")
_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(name, default=None) for name in CONTEXT_FIELDS
}


class ContextFilter(logging.Filter):
    """Copy the current job/session/stage ids onto every record (None when not set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _context.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        ids = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name)]
        record.context = f" [{' '.join(ids)}]" if ids else ""
        return True


@contextlib.contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """``with log_context(job_id=...):`` every line logged inside carries the ids."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in ids.items() if name in _context]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(job_id)s %(session_id)s %(stage)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "context"],
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Send the root logger to stderr in ``fmt`` (``json`` or ``text``), replacing earlier handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
