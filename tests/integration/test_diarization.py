"""Speaker detection end to end: HTTP API -> Redis broker -> real Celery worker (random-weights Parakeet
test model + the embedded offline diarizer) -> merge -> exports.

The dialogues are espeak-ng voices that Resemblyzer tells apart (offline-assets.md §3) with known
turn times. The test model's words are gibberish but carry real times, which is all speaker
attribution needs: each word's speaker is checked against the reference turn containing it.
"""

from __future__ import annotations

import io

import pytest
import srt
import webvtt

from bench.diarize import LINES, label_mapping, make_dialogue, reference_speaker
from tests.conftest import TEST_MODEL, wait_for

TERMINAL = {"completed", "failed", "cancelled"}


def submit(client, path, **form):
    with open(path, "rb") as fh:
        data = {"file": (io.BytesIO(fh.read()), path.name), **{k: str(v) for k, v in form.items()}}
    resp = client.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def wait_done(client, job_id, timeout=420):
    return wait_for(
        lambda: (r := client.get(f"/v1/audio/transcriptions/{job_id}").get_json())["status"] in TERMINAL and r,
        timeout=timeout,
        interval=0.25,
        what=f"job {job_id}",
    )


def attribution(job: dict, reference: list[dict]) -> tuple[float, int]:
    """Fraction of words inside a reference turn that carry that turn's speaker (labels mapped by overlap)."""
    spans = [{"speaker": s["speaker"], "start": s["start"], "end": s["end"]} for s in job["segments"]]
    mapping = label_mapping(reference, spans)
    scored = [(w, reference_speaker(reference, (w["start"] + w["end"]) / 2)) for w in job["words"]]
    scored = [(w, truth) for w, truth in scored if truth is not None]
    correct = sum(mapping.get(w["speaker"]) == truth for w, truth in scored)
    return (correct / len(scored) if scored else 0.0), len(scored)


@pytest.fixture(scope="module")
def two_voice(speech_dir):
    script = [("A", LINES[0]), ("B", LINES[1]), ("A", LINES[2]), ("B", LINES[3])]
    return make_dialogue(speech_dir, "api_two_voices", script, gaps=[0.6, 0.4, 0.7])


@pytest.fixture(scope="module")
def three_voice(speech_dir):
    # A, B and E are the three most distinct voices (Resemblyzer similarity <= 0.58, docs/diarization.md)
    script = [("A", LINES[4]), ("B", LINES[5]), ("E", LINES[6]), ("B", LINES[7]), ("A", LINES[8]), ("E", LINES[9])]
    return make_dialogue(speech_dir, "api_three_voices", script, gaps=[0.5, 0.6, 0.4, 0.5, 0.6])


def _check_speakers(job: dict, dialogue, expected: int):
    assert job["status"] == "completed", job.get("error")
    assert [s["stage"] for s in job["stages"]] == ["prepare", "transcribe", "diarize", "merge"]
    assert all(s["status"] == "completed" for s in job["stages"])
    assert job["speakers"] == [f"SPEAKER_{i:02d}" for i in range(expected)]
    words = job["words"]
    assert words and all(w["speaker"] in job["speakers"] for w in words)
    assert [w for s in job["segments"] for w in s["words"]] == words, "segments[].words carry the same speakers"
    for seg in job["segments"]:
        assert {w["speaker"] for w in seg["words"]} == {seg["speaker"]}
    for a, b in zip(job["segments"], job["segments"][1:], strict=False):
        assert a["speaker"] != b["speaker"] or b["start"] - a["end"] >= 0.8 or b["end"] - a["start"] > 15, (
            "segments split only at speaker changes, pauses or the length limit"
        )
    accuracy, scored = attribution(job, dialogue.turns)
    assert scored >= 10, f"only {scored} words fell inside reference turns"
    assert accuracy >= 0.90, f"{accuracy:.2%} of {scored} words got the right speaker"


def test_two_voice_dialogue_gets_two_speakers(client, celery_worker, two_voice):
    job = wait_done(client, submit(client, two_voice.wav, model=TEST_MODEL, speaker_detection="diarize"))
    _check_speakers(job, two_voice, 2)
    assert len(job["segments"]) >= 4, "four turns, so at least four segments"


def test_three_voice_dialogue_gets_three_speakers(client, celery_worker, three_voice):
    job = wait_done(client, submit(client, three_voice.wav, model=TEST_MODEL, speaker_detection="diarize"))
    _check_speakers(job, three_voice, 3)


def test_speaker_bounds_reach_the_diarizer(client, celery_worker, three_voice):
    job_id = submit(client, three_voice.wav, model=TEST_MODEL, speaker_detection="diarize", num_speakers=2)
    job = wait_done(client, job_id)
    assert job["status"] == "completed", job.get("error")
    assert job["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    bounded = wait_done(
        client,
        submit(client, three_voice.wav, model=TEST_MODEL, speaker_detection="diarize", min_speakers=1, max_speakers=3),
    )
    _check_speakers(bounded, three_voice, 3)


def test_segment_granularity_keeps_segment_speakers(client, celery_worker, two_voice):
    job = wait_done(
        client,
        submit(client, two_voice.wav, model=TEST_MODEL, speaker_detection="diarize", timestamps_granularity="segment"),
    )
    assert job["status"] == "completed", job.get("error")
    assert job["words"] == [] and job["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    assert {s["speaker"] for s in job["segments"]} == {"SPEAKER_00", "SPEAKER_01"}
    for seg in job["segments"]:
        mid = (seg["start"] + seg["end"]) / 2
        assert reference_speaker(two_voice.turns, mid) is None or seg["words"] == []


def test_exports_of_a_diarized_job(client, celery_worker, two_voice):
    job_id = submit(client, two_voice.wav, model=TEST_MODEL, speaker_detection="diarize")
    early = client.get(f"/v1/audio/transcriptions/{job_id}/export/srt")
    job = wait_done(client, job_id)
    assert job["status"] == "completed", job.get("error")
    if early.status_code != 200:  # the job may already have finished on a fast machine
        assert early.status_code == 400 and early.get_json()["error"]["code"] == "job_not_completed"

    subs = list(srt.parse(client.get(f"/v1/audio/transcriptions/{job_id}/export/srt").get_data(as_text=True)))
    assert subs and {s.content.split("]")[0] + "]" for s in subs} == {"[SPEAKER_00]", "[SPEAKER_01]"}
    assert all(len(line) <= 42 for s in subs for line in s.content.split("\n") if " " in line)
    assert all((s.end - s.start).total_seconds() <= 6.0 + 1e-6 for s in subs)
    assert all(s.start.total_seconds() < job["duration"] for s in subs)

    vtt = client.get(f"/v1/audio/transcriptions/{job_id}/export/vtt").get_data(as_text=True)
    captions = webvtt.from_buffer(io.StringIO(vtt)).captions
    assert len(captions) <= len(subs), "SRT counts its [label] in the line length, VTT's <v> tag is markup"
    assert all(c.end_in_seconds - c.start_in_seconds <= 6.0 + 1e-3 for c in captions)
    assert {c.raw_text.split(">")[0] + ">" for c in captions} == {"<v SPEAKER_00>", "<v SPEAKER_01>"}

    txt = client.get(f"/v1/audio/transcriptions/{job_id}/export/txt").get_data(as_text=True)
    assert txt.startswith("SPEAKER_00: ") and "\nSPEAKER_01: " in txt
    data = client.get(f"/v1/audio/transcriptions/{job_id}/export/json").get_json()
    assert data["speakers"] == job["speakers"] and data["words"] == job["words"]


def test_without_diarization_words_have_no_speaker(client, celery_worker, two_voice):
    job = wait_done(client, submit(client, two_voice.wav, model=TEST_MODEL))
    assert job["status"] == "completed", job.get("error")
    assert "diarize" not in [s["stage"] for s in job["stages"]]
    assert job["speakers"] == [] and all(w["speaker"] is None for w in job["words"])
    assert "SPEAKER" not in client.get(f"/v1/audio/transcriptions/{job['id']}/export/srt").get_data(as_text=True)
