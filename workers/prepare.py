"""PREPARE: fetch the audio (the upload, or the caller's ``audio_url``), decode, downmix and resample
it to a 16 kHz mono WAV in the store."""

from celery import shared_task

from core import audio
from core.artifacts import AUDIO, UPLOAD
from core.settings import get_settings
from workers.audio_url import fetch_audio_url
from workers.stage import StageError, artifacts, stage, store


@shared_task(name="budgie.prepare")
@stage("prepare")
def prepare(job_id: str) -> dict:
    files = artifacts(job_id)
    job = store().get(job_id)
    url = job["request"].get("audio_url") if job else None
    if not url and not files.exists(UPLOAD) and files.exists(AUDIO):
        # a re-run after a worker died between storing audio.wav and recording the stage: already done
        duration = audio.wav_duration(files.fetch(AUDIO))
        store().set_fields(job_id, duration=duration)
        return {"job_id": job_id, "duration": duration}
    if url:
        source = fetch_audio_url(url, files.workfile(UPLOAD))
        _check_duration(source)
    else:
        source = files.fetch(UPLOAD)
    try:
        if audio.is_prepared_wav(source):  # already 16 kHz mono 16-bit: nothing to convert
            duration = audio.wav_duration(source)
            files.publish(AUDIO, source)
        else:
            wav = files.workfile(AUDIO)
            duration = audio.convert_to_wav(source, wav)  # streamed: memory stays flat on long files
            files.publish(AUDIO, wav)
    except audio.AudioError as exc:
        raise StageError(str(exc), "invalid_audio") from exc
    store().set_fields(job_id, duration=duration)
    if not url:
        files.delete(UPLOAD)  # the 16 kHz WAV is all later stages need
    return {"job_id": job_id, "duration": duration}


def _check_duration(path) -> None:
    """The submit-time probe, for audio that arrived by URL: unreadable or too long fails here."""
    try:
        probe = audio.probe(path, max_duration_s=get_settings().max_duration_s)
    except audio.AudioError as exc:
        raise StageError(f"audio_url: {exc}", "invalid_audio") from exc
    limit = get_settings().max_duration_s
    if probe.duration > limit:
        raise StageError(f"Audio too long: {probe.duration:.0f}s (maximum {limit:.0f}s)", "invalid_audio")
