"""TRANSCRIBE: run the job's Parakeet model (loaded once per worker process) on the prepared audio."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core import audio
from core.artifacts import AUDIO, TRANSCRIPT
from core.catalog import registry
from core.settings import get_settings
from core.transcript import Word
from workers.engines.loader import get_model
from workers.engines.parakeet import transcribe_audio
from workers.stage import artifacts, check_cancelled, stage, store


@shared_task(name="budgie.transcribe")
@stage("transcribe")
def transcribe(job_id: str, *, model_id: str, language: str = "en") -> dict[str, Any]:
    settings = get_settings()
    entry = registry().resolve(model_id)
    model = get_model(entry, settings.device)
    files = artifacts(job_id)

    def progress(done: int, total: int, words: list[Word]) -> None:
        """Publish how far a long file is (chunks and the text so far), and stop if the job ended."""
        store().update_stage(
            job_id, "transcribe", chunks_done=done, chunks_total=total, text=" ".join(w["text"] for w in words)
        )
        check_cancelled(job_id)

    transcript = transcribe_audio(
        model,
        audio.read_wav(files.fetch(AUDIO)),
        max_chunk_s=entry.max_chunk_s or settings.max_chunk_s,
        batch_size=settings.batch_size,
        language=language,
        timestamp_shift=entry.timestamp_shift_s,
        on_progress=progress,
    )
    files.write_json(TRANSCRIPT, transcript)
    return {"job_id": job_id, "words": len(transcript["words"])}
