"""TRANSCRIBE: run the job's Parakeet model (loaded once per worker process) on the prepared audio."""
from celery import shared_task

from core.catalog import registry
from core import audio
from workers.engines.loader import get_model
from workers.engines.parakeet import transcribe_audio
from core.settings import get_settings
from workers.stage import artifacts, stage


@shared_task(name="budgie.transcribe")
@stage("transcribe")
def transcribe(job_id: str, *, model_id: str, language: str = "en") -> dict:
    settings = get_settings()
    entry = registry().resolve(model_id)
    model = get_model(entry, settings.device)
    files = artifacts(job_id)
    transcript = transcribe_audio(
        model,
        audio.read_wav(files.audio),
        max_chunk_s=entry.max_chunk_s or settings.max_chunk_s,
        batch_size=settings.batch_size,
        language=language,
        timestamp_shift=entry.timestamp_shift_s,
    )
    files.write_json(files.transcript, transcript)
    return {"job_id": job_id, "words": len(transcript["words"])}
