"""Route each stage task to its queue; transcription goes to the queue of the requested model."""
from __future__ import annotations

STAGE_QUEUES = {
    "budgie.prepare": "prepare",
    "budgie.align": "align",
    "budgie.diarize": "diarize",
    "budgie.merge": "merge",
}


def transcribe_queue(model_id: str) -> str:
    return f"transcribe.{model_id}"


def model_from_queue(queue: str) -> str | None:
    prefix = "transcribe."
    return queue[len(prefix):] if queue.startswith(prefix) else None


def route_task(name, args, kwargs, options, task=None, **kw):
    if name == "budgie.transcribe":
        return {"queue": transcribe_queue(kwargs["model_id"])}
    if name in STAGE_QUEUES:
        return {"queue": STAGE_QUEUES[name]}
    return None
