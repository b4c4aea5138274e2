"""Normalising NeMo hypotheses, and transcribing with a real (random-weights) NeMo model."""
from types import SimpleNamespace

import numpy as np
import pytest

from workers.engines.parakeet import transcribe_audio, words_from_hypothesis


def hyp(text, words, tokens=(), confidence=()):
    return SimpleNamespace(text=text, timestamp={"word": words, "char": list(tokens)},
                           token_confidence=list(confidence))


def test_words_are_offset_and_clamped_and_take_their_lowest_token_confidence():
    tokens = [{"char": ["▁hel"], "start_offset": 2}, {"char": ["lo"], "start_offset": 4},
              {"char": ["▁world"], "start_offset": 6}]
    h = hyp("hello world", [
        {"word": "hello", "start": 0.16, "end": 0.4, "start_offset": 2, "end_offset": 5},
        {"word": "world", "start": 0.48, "end": 9.0, "start_offset": 6, "end_offset": 112},
    ], tokens, [0.9, 0.7, 0.8])
    words = words_from_hypothesis(h, offset_s=10.0, frame_s=0.08, duration_s=11.0)
    assert [w["text"] for w in words] == ["hello", "world"]
    assert words[0]["start"] == 10.16 and words[0]["end"] == 10.4
    assert words[0]["confidence"] == 0.7 and words[1]["confidence"] == 0.8
    assert words[1]["end"] == 11.0, "times never run past the audio"


def test_mismatched_token_confidences_give_none_not_a_failure():
    h = hyp("hi", [{"word": "hi", "start_offset": 1, "end_offset": 2}], [{"start_offset": 1}], [0.5, 0.6])
    assert words_from_hypothesis(h, 0.0, 0.08, 1.0)[0]["confidence"] is None


def test_offsets_only_hypothesis_uses_the_frame_length():
    h = hyp("hi", [{"word": "hi", "start_offset": 3, "end_offset": 4}])
    (word,) = words_from_hypothesis(h, 0.0, 0.08, 5.0)
    assert word["start"] == pytest.approx(0.24) and word["end"] == pytest.approx(0.32)
    assert word["confidence"] is None


def test_empty_hypothesis_gives_no_words():
    assert words_from_hypothesis(hyp("", []), 0.0, 0.08, 1.0) == []
    assert words_from_hypothesis(SimpleNamespace(text="", timestamp=None), 0.0, 0.08, 1.0) == []


def test_text_without_timestamps_is_an_error_not_silence():
    """Dalston bug 1: a renamed timestamp field silently produced no words."""
    with pytest.raises(ValueError, match="without word timestamps"):
        words_from_hypothesis(SimpleNamespace(text="hello", timestamp={}), 0.0, 0.08, 1.0)


def test_real_model_transcript_shape(test_model_paths):
    from registry import load_registry
    from workers.engines.loader import get_model

    model = get_model(load_registry().resolve("parakeet-test"), "cpu")
    audio = np.random.default_rng(0).normal(0, 0.1, 16000 * 3).astype(np.float32)
    transcript = transcribe_audio(model, audio)
    assert transcript["duration"] == 3.0 and transcript["words"]
    assert all(0 <= w["start"] <= w["end"] <= 3.0 for w in transcript["words"])
    assert transcript["text"] == " ".join(w["text"] for w in transcript["words"])
    silent = transcribe_audio(model, np.zeros(800, dtype=np.float32))
    assert silent["words"] == [] and silent["segments"] == []
