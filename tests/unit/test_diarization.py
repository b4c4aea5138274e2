"""The diarization engines: constraints, clustering, turn building, the real embedded diarizer, selection."""

import numpy as np
import pytest

from bench.diarize import der, make_dialogue, word_accuracy
from core.settings import get_settings
from workers.engines.diarization import DiarizerUnavailable, EmbeddedDiarizer, SpeakerBounds, get_diarizer
from workers.engines.diarization.clustering import cluster
from workers.engines.diarization.embeddings import window_starts
from workers.engines.diarization.turns import region_turns, smooth_runs
from workers.speakers import assign_speakers

# ---------------------------------------------------------------- pure parts


def test_speaker_bounds_range():
    assert SpeakerBounds().range() == (1, 32)
    assert SpeakerBounds(num=3).range() == (3, 3)
    assert SpeakerBounds(min=2, max=4).range() == (2, 4)
    assert SpeakerBounds(min=5).range(limit=3) == (3, 3), "never more speakers than windows"
    assert SpeakerBounds(num=2, min=None, max=None).as_kwargs() == {"num_speakers": 2}


def _blobs(centres: int, per: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centres, 64))
    x = np.concatenate([m + spread * rng.normal(size=(per, 64)) for m in means])
    truth = np.repeat(np.arange(centres), per)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def _agreement(labels, truth) -> float:
    from scipy.optimize import linear_sum_assignment

    k = max(labels.max(), truth.max()) + 1
    m = np.zeros((k, k))
    for a, b in zip(labels, truth, strict=False):
        m[a, b] += 1
    rows, cols = linear_sum_assignment(-m)
    return m[rows, cols].sum() / len(truth)


def test_clustering_finds_the_number_of_speakers_by_threshold():
    x, truth = _blobs(3, 30, 0.15)
    labels, cents = cluster(x, SpeakerBounds())
    assert len(cents) == 3 and _agreement(labels, truth) == 1.0


def test_clustering_honours_num_min_and_max():
    x, _truth = _blobs(3, 30, 0.15)
    assert len(cluster(x, SpeakerBounds(num=2))[1]) == 2
    assert len(cluster(x, SpeakerBounds(max=2))[1]) == 2
    assert len(cluster(x, SpeakerBounds(min=4))[1]) == 4
    one, _ = _blobs(1, 40, 0.15)
    assert len(cluster(one, SpeakerBounds())[1]) == 1
    assert len(cluster(one, SpeakerBounds(num=2))[1]) == 2


def test_clustering_of_nothing_and_of_one_window():
    assert len(cluster(np.zeros((0, 8)))[0]) == 0
    labels, cents = cluster(np.ones((1, 8)) / np.sqrt(8), SpeakerBounds(num=3))
    assert labels.tolist() == [0] and len(cents) == 1


def test_clustering_a_long_recording_subsamples_without_losing_speakers():
    x, truth = _blobs(4, 700, 0.15, seed=1)  # 2800 windows > MAX_LINKAGE
    labels, cents = cluster(x, SpeakerBounds())
    assert len(cents) == 4 and _agreement(labels, truth) > 0.99


def test_window_starts_cover_the_region_and_end_on_it():
    starts, width = window_starts(100, 400)
    assert width == 150 and starts[0] == 100 and starts[-1] + width == 400
    assert window_starts(0, 80) == ([0], 80)
    assert window_starts(0, 10) == ([], 0)


def test_smooth_runs_removes_flickers():
    labels = np.array([0] * 50 + [1] * 10 + [0] * 50 + [1] * 60)
    assert smooth_runs(labels, 25).tolist() == [0] * 110 + [1] * 60


def test_region_turns_split_a_region_where_the_voice_changes():
    spans = np.array([[s, s + 1.5] for s in np.arange(0.0, 8.6, 0.25)])
    first = (spans.mean(axis=1) < 5.0).astype(float)
    scores = np.stack([first, 1 - first], axis=1) * 0.6 + 0.2
    turns = region_turns([(0.0, 10.0)], spans, scores)
    assert [t["speaker"] for t in turns] == [0, 1]
    assert abs(turns[0]["end"] - 5.0) <= 0.25 and turns[1]["end"] == 10.0


# ---------------------------------------------------------------- the real embedded diarizer


@pytest.fixture(scope="module")
def diarizer():
    return EmbeddedDiarizer().load()


@pytest.fixture(scope="module")
def two_voices(speech_dir):
    script = [
        ("A", "good morning and thanks for calling how can I help you today"),
        ("B", "hi I ordered a new laptop last week and it has not arrived"),
        ("A", "I am sorry to hear that let me look up your order"),
        ("B", "sure the order number is four five six seven"),
    ]
    return make_dialogue(speech_dir, "unit_two_voices", script, gaps=[0.5, 0.3, 0.6])


def test_embedded_diarizer_separates_two_voices(diarizer, two_voices):
    turns = diarizer.diarize(two_voices.wav)
    assert {t["speaker"] for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert turns[0]["speaker"] == "SPEAKER_00" and turns == sorted(turns, key=lambda t: t["start"])
    assert der(two_voices.turns, turns)["der"] < 0.10
    accuracy, scored = word_accuracy(assign_speakers(two_voices.words, turns), two_voices.turns)
    assert scored >= 30 and accuracy >= 0.95


def test_embedded_diarizer_honours_speaker_counts(diarizer, two_voices):
    assert len({t["speaker"] for t in diarizer.diarize(two_voices.wav, SpeakerBounds(num=1))}) == 1
    assert len({t["speaker"] for t in diarizer.diarize(two_voices.wav, SpeakerBounds(max=1))}) == 1
    assert len({t["speaker"] for t in diarizer.diarize(two_voices.wav, SpeakerBounds(min=3))}) == 3


def test_embedded_diarizer_on_silence_returns_no_turns(diarizer, tmp_path):
    import soundfile as sf

    sf.write(str(tmp_path / "quiet.wav"), np.zeros(16000 * 3, np.float32), 16000, subtype="PCM_16")
    assert diarizer.diarize(tmp_path / "quiet.wav") == []


# ---------------------------------------------------------------- engine selection


def test_default_engine_is_embedded():
    assert get_diarizer(get_settings()).name == "embedded"


def test_pyannote_without_weights_fails_clearly(tmp_path):
    settings = get_settings().replace(diarizer="pyannote", pyannote_model=str(tmp_path / "no-such-pipeline"))
    with pytest.raises(DiarizerUnavailable) as err:
        get_diarizer(settings)
    message = str(err.value)
    assert "pyannote" in message and "BUDGIE_DIARIZER=embedded" in message
    assert "Traceback" not in message
    hub = get_settings().replace(diarizer="pyannote", pyannote_model="pyannote/speaker-diarization-community-1")
    with pytest.raises(DiarizerUnavailable):
        get_diarizer(hub)  # HF_HUB_OFFLINE=1 in tests: no cached weights, so this cannot load


def test_pyannote_with_fallback_uses_the_embedded_diarizer():
    settings = get_settings().replace(
        diarizer="pyannote", diarizer_fallback="embedded", pyannote_model="/nonexistent/pipeline"
    )
    assert get_diarizer(settings).name == "embedded"


def test_unknown_engine_names_are_rejected_by_the_settings():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="diarizer"):
        get_settings().replace(diarizer="magic")
    with pytest.raises(ValidationError, match="diarizer_fallback"):
        get_settings().replace(diarizer="pyannote", diarizer_fallback="whisper")


def test_diarize_stage_fails_the_job_with_the_message(redis_client, worker_environment, two_voices):
    """The real stage task, run in-process against real Redis: a missing engine fails the job cleanly."""
    from core import jobstore
    from core.artifacts import AUDIO, TURNS
    from workers.diarize import diarize
    from workers.stage import StageError, artifacts, store

    worker_environment(BUDGIE_DIARIZER="pyannote", BUDGIE_PYANNOTE_MODEL="/nonexistent/pyannote-pipeline")
    job_id = jobstore.new_job_id()
    store().create(job_id, {"model": "parakeet-test"}, ["prepare", "transcribe", "diarize", "merge"])
    files = artifacts(job_id)
    files.storage.put_bytes(files.key(AUDIO), two_voices.wav.read_bytes())
    with pytest.raises(StageError):
        diarize(job_id)
    job = store().get(job_id)
    assert job["status"] == "failed" and job["error_code"] == "diarizer_unavailable"
    assert job["error"].startswith("diarize: ") and "pyannote" in job["error"]
    assert "Traceback" not in job["error"] and "DiarizerUnavailable" not in job["error"]
    assert "/nonexistent" not in job["error"], "server paths stay in the logs"
    assert not files.exists(TURNS)

    worker_environment(BUDGIE_DIARIZER="embedded")
    ok_id = jobstore.new_job_id()
    store().create(ok_id, {"model": "parakeet-test"}, ["prepare", "transcribe", "diarize", "merge"])
    ok_files = artifacts(ok_id)
    ok_files.storage.put_bytes(ok_files.key(AUDIO), two_voices.wav.read_bytes())
    summary = diarize(ok_id, num_speakers=2)
    assert summary["speakers"] == 2 and summary["engine"] == "embedded"
    turns = ok_files.read_json(TURNS)
    assert turns and set(turns[0]) == {"speaker", "start", "end"}
    assert {s["stage"]: s["status"] for s in store().get(ok_id)["stages"]}["diarize"] == "completed"


def test_pyannote_turns_are_clipped_to_the_audio():
    from workers.engines.diarization.pyannote_engine import clip_turns

    turns = [
        {"speaker": "A", "start": -0.2, "end": 1.0},
        {"speaker": "B", "start": 9.5, "end": 10.4},
        {"speaker": "A", "start": 10.1, "end": 10.3},
    ]
    assert clip_turns(turns, 10.0) == [
        {"speaker": "A", "start": 0.0, "end": 1.0},
        {"speaker": "B", "start": 9.5, "end": 10.0},
    ]


def test_windows_straddling_a_change_are_left_out_of_clustering():
    from workers.engines.diarization.embedded import pure_windows
    from workers.engines.diarization.embeddings import Windows

    a, b = np.eye(4)[0], np.eye(4)[1]
    short_spans = np.array([[s, s + 1.5] for s in np.arange(0, 3.6, 0.25)])
    short_emb = np.array([a if s + 0.75 < 2.5 else b for s, _ in short_spans])  # voice change at 2.5 s
    long = Windows(np.array([[0.0, 2.5], [1.5, 4.0], [2.5, 5.0]]), np.zeros((3, 4)))
    assert pure_windows(long, Windows(short_spans, short_emb)).tolist() == [True, False, True]
