"""DIARIZE: find speaker turns on the prepared audio (runs in parallel with transcribe)."""
from celery import shared_task

from workers.stage import StageError, stage


@shared_task(name="budgie.diarize")
@stage("diarize")
def diarize(job_id: str, *, num_speakers=None, min_speakers=None, max_speakers=None) -> dict:
    raise StageError("no diarization engine is installed yet")
