"""Transcript exports: subtitle rules (parsed back with the srt and webvtt-py libraries) and the HTTP route."""

import io
import itertools
import json

import pytest
import srt
import webvtt

from app.services.exports import Options, build_cues, render, wrap
from core import jobstore
from core.transcript import make_word, transcript_from_words
from workers.assemble import assemble


def _words(text: str, start: float, per_word: float = 0.3, gap: float = 0.05):
    out, t = [], start
    for token in text.split():
        out.append(make_word(token, t, t + per_word, 0.9))
        t += per_word + gap
    return out


A_TEXT = "good morning and thanks for calling the support line how can I help you today with your order"
B_TEXT = "hi I ordered a laptop last week"
WORDS = _words(A_TEXT, 0.5) + _words(B_TEXT, 8.0)
TURNS = [{"speaker": "a", "start": 0.4, "end": 7.0}, {"speaker": "b", "start": 7.9, "end": 11.0}]
RESULT = assemble(transcript_from_words(WORDS, 12.0), "word", TURNS)
PLAIN = assemble(transcript_from_words(WORDS, 12.0), "word")


def parse_srt(body: str):
    return list(srt.parse(body))


def parse_vtt(body: str):
    return list(webvtt.from_buffer(io.StringIO(body)).captions)


def test_wrap_never_splits_words_and_balances_lines():
    assert wrap(["a", "bb", "ccc", "dddd"], 6) == ["a bb", "ccc", "dddd"]
    assert wrap(["supercalifragilistic", "x"], 5) == ["supercalifragilistic", "x"]
    lines = wrap(["good", "morning", "and", "thanks", "for", "calling", "the", "support"], 42)
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) <= 8, lines
    assert wrap(["short", "line"], 42) == ["short line"]


def test_a_long_segment_is_shared_evenly_between_cues():
    cues = build_cues(PLAIN, Options())
    first_speaker = [c for c in cues if c.start < 7.0]
    sizes = [len(" ".join(c.lines)) for c in first_speaker]
    assert len(first_speaker) == 2 and min(sizes) >= 0.6 * max(sizes), sizes


def test_srt_parses_and_obeys_line_rules_and_speakers():
    body, mime = render("srt", RESULT)
    assert mime.startswith("application/x-subrip")
    subs = parse_srt(body)
    assert len(subs) >= 3
    for sub in subs:
        lines = sub.content.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 42 for line in lines), lines
        assert (sub.end - sub.start).total_seconds() <= 6.0 + 1e-6
        assert sub.end > sub.start
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    assert all(a.end <= b.start for a, b in itertools.pairwise(subs)), "cues must not overlap"
    assert subs[0].content.startswith("[SPEAKER_00]") and subs[-1].content.startswith("[SPEAKER_01]")
    spoken = " ".join(s.content.replace("\n", " ") for s in subs)
    assert spoken.replace("[SPEAKER_00] ", "").replace("[SPEAKER_01] ", "") == RESULT["text"]
    assert abs(subs[0].start.total_seconds() - 0.5) < 1e-3


def test_cue_never_spans_a_speaker_change():
    cues = build_cues(RESULT, Options(max_line_length=200, max_lines=5, max_cue_duration=60))
    assert [c.speaker for c in cues] == ["SPEAKER_00", "SPEAKER_01"]
    assert cues[0].end <= 8.0 <= cues[1].start


def test_query_overrides_tighten_the_rules():
    subs = parse_srt(render("srt", PLAIN, Options(max_line_length=20, max_lines=1, max_cue_duration=2.0))[0])
    assert all("\n" not in s.content and len(s.content) <= 20 for s in subs)
    assert all((s.end - s.start).total_seconds() <= 2.0 + 1e-6 for s in subs)
    assert len(subs) > len(parse_srt(render("srt", PLAIN)[0]))


def test_vtt_parses_with_voice_tags():
    body, mime = render("vtt", RESULT)
    assert body.startswith("WEBVTT\n\n") and mime.startswith("text/vtt")
    captions = parse_vtt(body)
    assert len(captions) == len(build_cues(RESULT, Options(), "vtt"))
    assert "<v SPEAKER_00>" in captions[0].raw_text and "<v SPEAKER_01>" in captions[-1].raw_text
    assert captions[0].start == "00:00:00.500"
    for c in captions:
        assert c.end_in_seconds - c.start_in_seconds <= 6.0 + 1e-3
        assert all(len(line) <= 42 for line in c.text.split("\n"))


def test_no_speakers_means_no_labels():
    assert "[SPEAKER" not in render("srt", PLAIN)[0]
    assert "<v " not in render("vtt", PLAIN)[0]
    assert "SPEAKER" not in render("srt", RESULT, Options(include_speakers=False))[0]
    assert render("txt", PLAIN)[0].splitlines() == [A_TEXT, B_TEXT]  # one line per segment


def test_txt_has_one_paragraph_per_speaker_turn():
    lines = render("txt", RESULT)[0].splitlines()
    assert lines == [f"SPEAKER_00: {A_TEXT}", f"SPEAKER_01: {B_TEXT}"]


def test_json_is_the_transcript():
    data = json.loads(render("json", RESULT)[0])
    assert data["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    assert data["words"] == RESULT["words"] and data["segments"] == RESULT["segments"]
    hidden = json.loads(render("json", RESULT, Options(include_speakers=False))[0])
    assert hidden["speakers"] == [] and all(w["speaker"] is None for w in hidden["words"])


def test_segment_granularity_spreads_cues_over_the_segment():
    seg_only = assemble(transcript_from_words(WORDS, 12.0), "segment", TURNS)
    subs = parse_srt(render("srt", seg_only)[0])
    assert len(subs) >= 3
    assert abs(subs[0].start.total_seconds() - seg_only["segments"][0]["start"]) < 1e-3
    assert abs(subs[-1].end.total_seconds() - seg_only["segments"][-1]["end"]) < 1e-3
    assert all((s.end - s.start).total_seconds() <= 6.0 + 1e-6 for s in subs)


def test_none_granularity_still_exports_text():
    none = assemble(transcript_from_words(WORDS, 12.0), "none")
    subs = parse_srt(render("srt", none)[0])
    assert " ".join(s.content.replace("\n", " ") for s in subs) == none["text"]
    assert subs[-1].end.total_seconds() <= 12.0


def test_empty_transcript_exports_parse():
    empty = assemble(transcript_from_words([], 1.0), "word")
    assert render("srt", empty)[0] == ""
    assert parse_vtt(render("vtt", empty)[0]) == []
    assert render("txt", empty)[0] == "\n"


# ---------------------------------------------------------------- the HTTP route (real Redis, no worker)


@pytest.fixture()
def jobs(app):
    from app.extensions import jobs as get_jobs

    with app.app_context():
        yield get_jobs()


def _job(jobs, status, result=None):
    job_id = jobstore.new_job_id()
    jobs.create(job_id, {"model": "parakeet-test"}, ["prepare", "transcribe", "merge"])
    if result is not None:
        jobs.set_fields(job_id, result=result)
    if status != jobstore.PENDING:
        jobs.transition(job_id, status)
    return job_id


@pytest.mark.parametrize(
    "fmt,mime",
    [("txt", "text/plain"), ("json", "application/json"), ("srt", "application/x-subrip"), ("vtt", "text/vtt")],
)
def test_export_route_serves_each_format(client, jobs, fmt, mime):
    job_id = _job(jobs, jobstore.COMPLETED, RESULT)
    resp = client.get(f"/v1/audio/transcriptions/{job_id}/export/{fmt}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == mime
    assert f'filename="{job_id}.{fmt}"' in resp.headers["Content-Disposition"]
    assert "SPEAKER_01" in resp.get_data(as_text=True)


def test_export_route_query_parameters(client, jobs):
    job_id = _job(jobs, jobstore.COMPLETED, RESULT)
    body = client.get(
        f"/v1/audio/transcriptions/{job_id}/export/srt?max_line_length=16&max_lines=1&include_speakers=false"
    ).get_data(as_text=True)
    subs = parse_srt(body)
    assert subs and all(len(s.content) <= 16 and "\n" not in s.content and "SPEAKER" not in s.content for s in subs)
    bad = client.get(f"/v1/audio/transcriptions/{job_id}/export/srt?max_lines=0")
    assert bad.status_code == 400 and "max_lines" in bad.get_json()["error"]["message"]
    unknown = client.get(f"/v1/audio/transcriptions/{job_id}/export/srt?colour=red")
    assert unknown.status_code == 400


def test_export_route_errors(client, jobs):
    running = _job(jobs, jobstore.RUNNING)
    resp = client.get(f"/v1/audio/transcriptions/{running}/export/srt")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "job_not_completed"
    assert "running" in resp.get_json()["error"]["message"]
    failed = _job(jobs, jobstore.FAILED)
    assert client.get(f"/v1/audio/transcriptions/{failed}/export/txt").status_code == 400
    missing = client.get("/v1/audio/transcriptions/job_doesnotexist/export/srt")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    done = _job(jobs, jobstore.COMPLETED, RESULT)
    fmt = client.get(f"/v1/audio/transcriptions/{done}/export/docx")
    assert fmt.status_code == 400 and fmt.get_json()["error"]["details"]["formats"] == ["txt", "json", "srt", "vtt"]
