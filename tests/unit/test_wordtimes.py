"""The one word-time function batch and streaming share: the registry's shift, clamps and sequencing."""

import itertools

import pytest

from core.transcript import make_word
from workers.engines.wordtimes import in_sequence, shift_word_times

SHIFT = (-0.52, -0.23)  # parakeet-tiny-en's measured shift


def words(*spans):
    return [make_word(f"w{i}", start, end) for i, (start, end) in enumerate(spans)]


def in_order(ws):
    return all(
        a["start"] <= b["start"] and a["end"] <= b["start"] and a["start"] <= a["end"]
        for a, b in itertools.pairwise(ws)
    )


def test_words_clamped_to_the_start_of_the_audio_keep_a_length():
    """budgie-demo printed its first word as 0.00 0.00: the shift clamped it to nothing."""
    we, have, seen = shift_word_times(words((0.0, 0.08), (0.48, 0.56), (0.8, 0.96)), SHIFT, limit_s=5.0)
    assert we["start"] == 0.0 and we["end"] > 0.0
    assert have["start"] == we["end"] and have["end"] > have["start"]
    assert have["end"] <= seen["start"] == pytest.approx(0.28)
    assert in_order([we, have, seen])


def test_shift_moves_times_back_and_ends_never_pass_the_next_start():
    shifted = shift_word_times(words((1.0, 1.4), (1.5, 1.9), (2.0, 2.4)), SHIFT, limit_s=5.0)
    assert [w["start"] for w in shifted] == [pytest.approx(0.48), pytest.approx(0.98), pytest.approx(1.48)]
    assert in_order(shifted) and all(w["end"] > w["start"] for w in shifted)


def test_words_on_one_frame_share_it_in_order():
    """Several words emitted on the same frame split the time up to the next word."""
    same = in_sequence(words((0.8, 0.88), (0.8, 0.88), (0.8, 0.88), (0.88, 0.96)), limit_s=5.0)
    assert [w["start"] for w in same[:3]] == pytest.approx([0.8, 0.827, 0.853], abs=1e-3)
    long_last = in_sequence(words((0.64, 0.72), (0.64, 0.72), (0.64, 1.2), (1.2, 1.28)), limit_s=5.0)
    assert [w["start"] for w in long_last[:3]] == pytest.approx([0.64, 0.667, 0.693], abs=1e-3)
    assert long_last[2]["end"] == 1.2, "a long last word keeps its own end"
    assert in_order(same) and all(w["end"] > w["start"] for w in same)


def test_a_flood_of_words_is_never_pushed_out_of_order():
    flood = in_sequence(words(*[(f * 0.08, f * 0.08 + 0.08) for f in range(40) for _ in range(10)]), limit_s=3.0)
    assert in_order(flood) and flood[-1]["end"] <= 3.0
    assert [w["start"] for w in flood] == sorted(w["start"] for w in flood)


def test_times_stay_inside_the_audio():
    (word,) = shift_word_times(words((4.9, 5.3)), (0.0, 0.0), limit_s=5.0)
    assert word["start"] == 4.9 and word["end"] == 5.0


def test_no_shift_changes_nothing_for_words_that_already_follow_each_other():
    original = words((0.1, 0.3), (0.4, 0.9))
    assert shift_word_times(original, (0.0, 0.0), limit_s=5.0) == original
