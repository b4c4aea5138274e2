"""ALIGN: forced alignment for models without native word timestamps.

Every model Budgie ships declares native word timestamps, so the DAG builder never schedules
this stage for them. A registry entry without them gets this stage, which fails clearly until an
alignment engine is installed rather than returning invented times.
"""

from celery import shared_task

from workers.stage import StageError, stage


@shared_task(name="budgie.align")
@stage("align")
def align(job_id: str) -> dict:
    raise StageError(
        "no alignment engine is installed; use a model with native word timestamps or timestamps_granularity=segment",
        "alignment_unavailable",
    )
