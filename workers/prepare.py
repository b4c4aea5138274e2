"""PREPARE: decode the upload, downmix and resample to 16 kHz mono WAV on shared storage."""

from celery import shared_task

from core import audio
from workers.stage import StageError, artifacts, stage, store


@shared_task(name="budgie.prepare")
@stage("prepare")
def prepare(job_id: str) -> dict:
    files = artifacts(job_id)
    try:
        if audio.is_prepared_wav(files.upload):  # already 16 kHz mono 16-bit: nothing to convert
            files.upload.replace(files.audio)
            duration = audio.wav_duration(files.audio)
        else:
            samples = audio.decode(files.upload)
            audio.write_wav(files.audio, samples)
            duration = round(len(samples) / audio.SAMPLE_RATE, 3)
    except audio.AudioError as exc:
        raise StageError(str(exc)) from exc
    store().set_fields(job_id, duration=duration)
    files.upload.unlink(missing_ok=True)  # the 16 kHz WAV is all later stages need
    return {"job_id": job_id, "duration": duration}
