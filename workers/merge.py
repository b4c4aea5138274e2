"""MERGE: assemble the final transcript and store it in the job (the stage wrapper then completes it)."""

from celery import shared_task

from core.artifacts import TRANSCRIPT, TURNS
from workers.assemble import assemble
from workers.stage import artifacts, stage, store


@shared_task(name="budgie.merge")
@stage("merge", completes_job=True)
def merge(job_id: str, *, granularity: str = "word", diarize: bool = False) -> dict:
    files = artifacts(job_id)
    transcript = files.read_json(TRANSCRIPT)
    turns = files.read_json(TURNS) if diarize else None
    result = assemble(transcript, granularity, turns)
    store().set_fields(job_id, result=result)
    return {"job_id": job_id, "words": len(result["words"])}
