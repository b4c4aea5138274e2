"""DIARIZE: find speaker turns on the prepared audio (runs in parallel with transcribe).

Writes ``[{speaker, start, end}]`` to the job's ``turns.json`` for MERGE. The engine comes from
the worker settings (``BUDGIE_DIARIZER``); an engine that cannot load fails the job with a message
that says what to configure (docs/diarization.md).
"""

import logging

from celery import shared_task, signals

from core.artifacts import AUDIO, TURNS
from core.settings import get_settings
from workers.engines.diarization import DiarizerUnavailable, SpeakerBounds, get_diarizer
from workers.stage import StageError, artifacts, stage

logger = logging.getLogger(__name__)


@shared_task(name="budgie.diarize")
@stage("diarize")
def diarize(job_id: str, *, num_speakers=None, min_speakers=None, max_speakers=None) -> dict:
    files = artifacts(job_id)
    bounds = SpeakerBounds(num_speakers, min_speakers, max_speakers)
    try:
        diarizer = get_diarizer(get_settings())
    except DiarizerUnavailable as exc:
        raise StageError(str(exc), "diarizer_unavailable") from exc
    turns = diarizer.diarize(files.fetch(AUDIO), bounds)
    files.write_json(TURNS, turns)
    speakers = sorted({t["speaker"] for t in turns})
    logger.info("job %s: %s diarizer found %d speakers in %d turns", job_id, diarizer.name, len(speakers), len(turns))
    return {"job_id": job_id, "engine": diarizer.name, "speakers": len(speakers), "turns": len(turns)}


@signals.celeryd_after_setup.connect
def _preload_diarizer(sender, instance, **kwargs):
    """Load the engine before the first job on workers that consume ``diarize``.

    An engine that cannot load is logged, not fatal: the worker still takes jobs and fails each with
    the same clear message, instead of leaving them pending with no worker.
    """
    queues = instance.app.amqp.queues.consume_from or instance.app.amqp.queues
    if "diarize" not in queues:
        return
    try:
        diarizer = get_diarizer(get_settings())
    except DiarizerUnavailable as exc:
        logger.error("diarize jobs will fail until this is fixed: %s", exc)
        return
    logger.info("preloaded the %s diarizer", diarizer.name)
