"""The OpenAI-compatible surface driven by the real, pinned ``openai`` SDK against a live API server,
the real Celery worker and the embedded trained model (so the words are real)."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
import requests
import srt
import webvtt

from tests.conftest import SHIPPED_MODEL, wait_for
from tests.live import serve
from tests.speech import concatenate, silence, synthesize

SENTENCE = "the quick brown fox jumps over the lazy dog"
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def base_url(redis_client, celery_worker):
    with serve(default_model=SHIPPED_MODEL) as url:
        yield url


@pytest.fixture(scope="module")
def sdk(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/openai/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def fox_wav(speech_dir) -> Path:
    return synthesize(SENTENCE, speech_dir / "openai-fox.wav")


@pytest.fixture(scope="module")
def long_wav(speech_dir) -> Path:
    """About 40 s of speech in sentences with pauses: the tiny model (8 s chunks, 4 per batch) decodes it
    in at least two batches, so its progress reaches the stream in more than one piece."""
    lines = [
        "speech recognition turns spoken words into text",
        "the weather today is sunny with a light breeze",
        "please remember to bring your notebook to the meeting",
        "a budgie is a small and friendly parrot",
        "the train leaves the station at half past nine",
        "she opened the window and the room filled with light",
        "we walked along the river until the sun went down",
        "numbers and letters are easy to read on this screen",
        "the children played football in the park after school",
        "he cooked a simple dinner of rice and vegetables",
    ]
    gap = silence(speech_dir / "openai-gap.wav", 0.8)
    parts = []
    for i, line in enumerate(lines):
        parts += [synthesize(line, speech_dir / f"openai-long-{i}.wav"), gap]
    return concatenate(parts, speech_dir / "openai-long.wav")


def native_job(base_url: str, path: Path, **form) -> dict:
    with open(path, "rb") as fh:
        created = requests.post(f"{base_url}/v1/audio/transcriptions", files={"file": fh}, data=form, timeout=60)
    assert created.status_code == 201, created.text
    url = f"{base_url}/v1/audio/transcriptions/{created.json()['id']}"
    return wait_for(
        lambda: (job := requests.get(url, timeout=10).json())["status"] in TERMINAL and job, 120, what="native job"
    )


@pytest.fixture(scope="module")
def native(base_url, fox_wav) -> dict:
    job = native_job(base_url, fox_wav, model=SHIPPED_MODEL)
    assert job["status"] == "completed", job
    assert job["text"]
    return job


def test_json_and_text_equal_the_native_transcript(sdk, fox_wav, native):
    with open(fox_wav, "rb") as fh:
        result = sdk.audio.transcriptions.create(model="whisper-1", file=fh)
    assert isinstance(result, openai.types.audio.Transcription)
    assert result.text == native["text"]
    assert result.usage is not None and result.usage.type == "duration" and result.usage.seconds >= 2
    with open(fox_wav, "rb") as fh:
        text = sdk.audio.transcriptions.create(model=SHIPPED_MODEL, file=fh, response_format="text")
    assert text == native["text"] + "\n"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_are_the_native_exports(sdk, base_url, fox_wav, native, fmt):
    with open(fox_wav, "rb") as fh:
        body = sdk.audio.transcriptions.create(model="whisper-1", file=fh, response_format=fmt)
    exported = requests.get(f"{base_url}/v1/audio/transcriptions/{native['id']}/export/{fmt}", timeout=10)
    assert body == exported.text
    if fmt == "srt":
        texts = [c.content for c in srt.parse(body)]
    else:
        texts = [c.text for c in webvtt.from_string(body)]
    assert " ".join(" ".join(t.split()) for t in texts) == native["text"]


def test_verbose_json_has_segments_and_words(sdk, fox_wav, native):
    with open(fox_wav, "rb") as fh:
        result = sdk.audio.transcriptions.create(
            model="whisper-1",
            file=fh,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            temperature=0.2,
            prompt="ignored by an RNNT",
            language="en",
        )
    assert isinstance(result, openai.types.audio.TranscriptionVerbose)
    raw = result.model_dump()
    assert raw["task"] == "transcribe" and result.language == "english"
    assert result.text == native["text"]
    assert result.duration == pytest.approx(native["duration"])
    assert [w.word for w in result.words] == [w["text"] for w in native["words"]]
    assert [(w.start, w.end) for w in result.words] == [(w["start"], w["end"]) for w in native["words"]]
    assert [s.text for s in result.segments] == [s["text"] for s in native["segments"]]
    for seg in result.segments:
        assert seg.start <= seg.end and seg.tokens == [] and seg.avg_logprob <= 0.0 and seg.compression_ratio > 0


def test_verbose_json_defaults_to_segments_only(sdk, fox_wav):
    with open(fox_wav, "rb") as fh:
        result = sdk.audio.transcriptions.create(model="whisper-1", file=fh, response_format="verbose_json")
    assert result.segments and result.words is None


def test_stream_yields_progress_deltas_then_done(sdk, long_wav):
    with open(long_wav, "rb") as fh:
        events = list(sdk.audio.transcriptions.create(model="whisper-1", file=fh, stream=True))
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and set(kinds[:-1]) == {"transcript.text.delta"}
    assert len(kinds) >= 3, f"expected deltas from more than one chunk batch, got {kinds}"
    text = events[-1].text
    assert len(text.split()) > 40
    assert "".join(e.delta for e in events[:-1]) == text


def test_unknown_model_is_a_bad_request_with_budgies_message(sdk, fox_wav):
    with open(fox_wav, "rb") as fh, pytest.raises(openai.BadRequestError) as err:
        sdk.audio.transcriptions.create(model="no-such-model", file=fh)
    assert "Unknown model 'no-such-model'" in err.value.message
    assert err.value.body["param"] == "model" and err.value.body["code"] == "unknown_model"
    assert err.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"timestamp_granularities": ["word"]}, "timestamp_granularities[]"),
        ({"response_format": "srt", "stream": True}, "stream"),
        ({"language": "fr"}, "language"),
    ],
)
def test_bad_combinations_are_openai_shaped_400s(sdk, fox_wav, kwargs, param):
    with open(fox_wav, "rb") as fh, pytest.raises(openai.BadRequestError) as err:
        sdk.audio.transcriptions.create(model="whisper-1", file=fh, **kwargs)
    assert err.value.body["param"] == param, err.value.body


def test_translation_of_english_audio_is_its_transcript(sdk, fox_wav, native):
    with open(fox_wav, "rb") as fh:
        result = sdk.audio.translations.create(model="whisper-1", file=fh)
    assert result.text == native["text"]


def test_translation_needs_an_english_only_model(sdk, test_registry, worker_environment, fox_wav, tmp_path):
    """A multilingual model does not translate: an OpenAI-shaped 400 before any job is made."""
    extra = tmp_path / "multilingual.yaml"
    extra.write_text(
        "models:\n  - id: multi-test\n    name: Multilingual\n    engine: parakeet\n"
        "    source: {hub: example/multi}\n    tier: test\n    languages: [en, de]\n"
        "    streaming: none\n    word_timestamps: true\n    supports_cpu: true\n"
    )
    worker_environment(BUDGIE_REGISTRY_FILES=f"{test_registry}:{extra}")
    with open(fox_wav, "rb") as fh, pytest.raises(openai.BadRequestError) as err:
        sdk.audio.translations.create(model="multi-test", file=fh)
    assert "does not translate" in err.value.message and err.value.body["param"] == "model"


def test_models_in_openais_shape(sdk):
    ids = [m.id for m in sdk.models.list()]
    assert SHIPPED_MODEL in ids
    model = sdk.models.retrieve(SHIPPED_MODEL)
    assert (model.object, model.owned_by) == ("model", "budgie") and model.created > 0
    assert sdk.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError) as err:
        sdk.models.retrieve("no-such-model")
    assert "no-such-model" in err.value.message


def test_a_job_outliving_the_wait_is_a_504_naming_the_native_job(redis_client, celery_worker, fox_wav):
    with serve(default_model=SHIPPED_MODEL, openai_wait_s=0.0) as url:
        client = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="unused")  # default retries: 2
        before = redis_client.zcard("budgie-test:jobs")
        with open(fox_wav, "rb") as fh, pytest.raises(openai.InternalServerError) as err:
            client.audio.transcriptions.create(model="whisper-1", file=fh)
        assert err.value.status_code == 504
        job_id = err.value.body["job_id"]
        assert job_id in err.value.message and err.value.body["code"] == "job_timeout"
        assert redis_client.zcard("budgie-test:jobs") == before + 1, "the SDK retried and submitted again"
        job = wait_for(
            lambda: (
                (j := requests.get(f"{url}/v1/audio/transcriptions/{job_id}", timeout=10).json())["status"] in TERMINAL
                and j
            ),
            120,
            what="the job behind the 504",
        )
    assert job["status"] == "completed" and job["text"]


def test_missing_file_and_unknown_route_are_openai_shaped(base_url):
    missing = requests.post(f"{base_url}/openai/v1/audio/transcriptions", data={"model": "whisper-1"}, timeout=10)
    assert missing.status_code == 400
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}
    assert missing.json()["error"]["param"] == "file"
    nowhere = requests.get(f"{base_url}/openai/v1/nowhere", timeout=10)
    assert nowhere.status_code == 404 and json.loads(nowhere.text)["error"]["type"] == "not_found_error"
