"""Normalising NeMo hypotheses into words, and transcribing with a real (random-weights) NeMo model."""

from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import TEST_MODEL
from workers.engines.parakeet import transcribe_audio, words_from_hypothesis


@pytest.fixture(scope="module")
def detok(test_model_paths):
    from nemo.collections.asr.models import ASRModel

    from workers.engines.wordtimes import Detokenizer

    model = ASRModel.restore_from(str(test_model_paths[TEST_MODEL]), map_location="cpu")
    return Detokenizer(model.tokenizer)


def hyp(ids, starts, ends=None, confidence=()):
    ends = ends or [s + 1 for s in starts]
    tokens = [{"start_offset": s, "end_offset": e} for s, e in zip(starts, ends, strict=True)]
    return SimpleNamespace(y_sequence=list(ids), timestamp={"char": tokens}, token_confidence=list(confidence))


def test_words_are_offset_clamped_and_take_their_lowest_token_confidence(detok):
    ids = detok.tokenizer.text_to_ids("hello world")
    starts = list(range(2, 2 + 2 * len(ids), 2))
    confidence = [0.9 - 0.1 * i for i in range(len(ids))]
    words = words_from_hypothesis(hyp(ids, starts, confidence=confidence), detok, 10.0, 0.08, limit_s=10.5)
    assert [w["text"] for w in words] == ["hello", "world"]
    assert words[0]["start"] == pytest.approx(10.16)
    hello_tokens = len(detok.tokenizer.text_to_ids("hello"))
    assert words[0]["confidence"] == pytest.approx(min(confidence[:hello_tokens]))
    assert words[1]["confidence"] == pytest.approx(min(confidence[hello_tokens:]))
    assert words[-1]["end"] <= 10.5, "times never run past the audio"


def test_token_durations_set_word_ends(detok):
    """TDT hypotheses carry each token's duration: the word ends where its last token does."""
    ids = detok.tokenizer.text_to_ids("fox")
    starts = list(range(3, 3 + len(ids)))
    ends = [s + 4 for s in starts]
    (word,) = words_from_hypothesis(hyp(ids, starts, ends), detok, 0.0, 0.08, limit_s=5.0)
    assert word["start"] == pytest.approx(0.24) and word["end"] == pytest.approx(ends[-1] * 0.08)


def test_mismatched_token_confidences_give_none_not_a_failure(detok):
    ids = detok.tokenizer.text_to_ids("hi")
    h = hyp(ids, list(range(len(ids))), confidence=[0.5] * (len(ids) + 1))
    assert words_from_hypothesis(h, detok, 0.0, 0.08, 1.0)[0]["confidence"] is None


def test_empty_hypothesis_gives_no_words(detok):
    assert words_from_hypothesis(hyp([], []), detok, 0.0, 0.08, 1.0) == []
    assert words_from_hypothesis(SimpleNamespace(y_sequence=None, timestamp=None), detok, 0.0, 0.08, 1.0) == []


def test_tokens_without_timestamps_are_an_error_not_silence(detok):
    """Dalston bug 1: a renamed timestamp field silently produced no words."""
    ids = detok.tokenizer.text_to_ids("hello")
    with pytest.raises(ValueError, match="without timestamps"):
        words_from_hypothesis(SimpleNamespace(y_sequence=ids, timestamp={}), detok, 0.0, 0.08, 1.0)


def test_real_model_transcript_shape(test_model_paths):
    from core.catalog import registry
    from workers.engines.loader import get_model

    model = get_model(registry().resolve("parakeet-test"), "cpu")
    audio = np.random.default_rng(0).normal(0, 0.1, 16000 * 3).astype(np.float32)
    transcript = transcribe_audio(model, audio)
    assert transcript["duration"] == 3.0 and transcript["words"]
    assert all(0 <= w["start"] <= w["end"] <= 3.0 for w in transcript["words"])
    assert transcript["text"] == " ".join(w["text"] for w in transcript["words"])
    silent = transcribe_audio(model, np.zeros(800, dtype=np.float32))
    assert silent["words"] == [] and silent["segments"] == []
