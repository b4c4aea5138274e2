"""MERGE: assemble the final transcript, store it in the job and mark the job completed."""
from celery import shared_task

from workers import jobstore
from workers.assemble import assemble
from workers.stage import artifacts, stage, store


@shared_task(name="budgie.merge")
@stage("merge")
def merge(job_id: str, *, granularity: str = "word", diarize: bool = False) -> dict:
    files = artifacts(job_id)
    transcript = files.read_json(files.transcript)
    turns = files.read_json(files.turns) if diarize else None
    result = assemble(transcript, granularity, turns)
    jobs = store()
    jobs.set_fields(job_id, result=result)
    # the stage wrapper records merge as completed after this returns; the job itself is done now
    jobs.update_stage(job_id, "merge", status="completed")
    jobs.transition(job_id, jobstore.COMPLETED, completed_at=jobstore.now())
    return {"job_id": job_id, "words": len(result["words"])}
