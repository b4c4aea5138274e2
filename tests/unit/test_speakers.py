"""Word-level speaker attribution (workers.speakers) and its use in assemble()."""

from core.transcript import make_word, transcript_from_words
from workers.assemble import assemble
from workers.speakers import assign_speakers, relabel, smooth_turns


def W(text, start, end):
    return make_word(text, start, end, 0.9)


def T(speaker, start, end):
    return {"speaker": speaker, "start": start, "end": end}


def speakers(words):
    return [w["speaker"] for w in words]


def test_each_word_takes_the_speaker_of_its_turn_and_labels_follow_first_appearance():
    words = [W("hello", 0.1, 0.5), W("there", 0.6, 1.0), W("hi", 1.6, 1.9), W("back", 2.0, 2.4)]
    turns = [T("bob", 1.5, 2.5), T("alice", 0.0, 1.2)]  # unsorted, arbitrary labels
    out = assign_speakers(words, turns)
    assert speakers(out) == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    assert [w["text"] for w in out] == ["hello", "there", "hi", "back"]
    assert words[0]["speaker"] is None, "the input words are not modified"


def test_word_straddling_a_turn_change_goes_to_the_larger_overlap():
    turns = [T("A", 0.0, 1.0), T("B", 1.0, 2.0)]
    out = assign_speakers([W("mostly_a", 0.6, 1.1), W("mostly_b", 0.95, 1.5)], turns)
    assert speakers(out) == ["SPEAKER_00", "SPEAKER_01"]


def test_exact_tie_goes_to_the_lower_label():
    out = assign_speakers([W("tie", 0.8, 1.2)], [T("A", 0.0, 1.0), T("B", 1.0, 2.0)])
    assert speakers(out) == ["SPEAKER_00"]


def test_no_turns_leaves_every_speaker_none():
    words = [W("a", 0.0, 0.2), W("b", 0.3, 0.5)]
    assert speakers(assign_speakers(words, [])) == [None, None]
    assert speakers(assign_speakers(words, None)) == [None, None]
    assert speakers(assign_speakers(words, [T("A", 1.0, 1.0)])) == [None, None]  # zero-length turn only


def test_one_speaker_gets_every_word_even_outside_its_turn():
    words = [W("early", 0.0, 0.3), W("inside", 1.0, 1.4), W("late", 5.0, 5.2)]
    assert speakers(assign_speakers(words, [T("X", 0.8, 2.0)])) == ["SPEAKER_00"] * 3


def test_words_in_gaps_and_zero_length_words_take_the_nearest_turn():
    turns = [T("A", 0.0, 1.0), T("B", 3.0, 4.0)]
    words = [W("near_a", 1.2, 1.4), W("near_b", 2.6, 2.8), W("point", 3.5, 3.5), W("after", 6.0, 6.3)]
    assert speakers(assign_speakers(words, turns)) == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01", "SPEAKER_01"]


def test_overlapping_turns_sum_overlap_per_speaker():
    # B talks over the end of A's long turn; a word inside both goes to whoever covers more of it
    turns = [T("A", 0.0, 3.0), T("B", 2.0, 4.0), T("A", 3.9, 5.0)]
    words = [W("only_a", 0.5, 0.9), W("both", 2.1, 2.5), W("mostly_b", 2.9, 3.4), W("b_then_a", 3.8, 4.4)]
    out = assign_speakers(words, turns)
    assert speakers(out)[0] == "SPEAKER_00"
    assert speakers(out)[1] in ("SPEAKER_00", "SPEAKER_01")  # fully inside both: either is right
    assert speakers(out)[2] == "SPEAKER_01"  # 0.1 s of A, 0.5 s of B
    assert speakers(out)[3] == "SPEAKER_00"  # 0.2 s of B, 0.5 s of A


def test_nested_turn_inside_a_long_turn():
    turns = [T("A", 0.0, 10.0), T("B", 4.0, 6.0)]
    out = assign_speakers([W("a", 1.0, 1.5), W("b", 4.5, 5.0), W("a2", 8.0, 8.5)], turns)
    assert speakers(out)[0] == speakers(out)[2] == "SPEAKER_00"
    assert speakers(out)[1] in ("SPEAKER_00", "SPEAKER_01")


def test_flicker_shorter_than_250ms_is_smoothed_into_its_neighbour():
    turns = [T("A", 0.0, 2.0), T("B", 2.0, 2.2), T("A", 2.2, 4.0)]
    smoothed = smooth_turns(turns)
    assert [(t["speaker"], t["start"], t["end"]) for t in smoothed] == [("A", 0.0, 4.0)]
    out = assign_speakers([W("x", 1.95, 2.15), W("y", 2.05, 2.18)], turns)
    assert speakers(out) == ["SPEAKER_00", "SPEAKER_00"], "no word may go to the 200 ms flicker"


def test_flicker_joins_the_longer_neighbour():
    turns = [T("A", 0.0, 0.5), T("B", 0.5, 0.7), T("C", 0.7, 3.0)]
    smoothed = smooth_turns(turns)
    assert [t["speaker"] for t in smoothed] == ["A", "C"]
    assert smoothed[1]["start"] == 0.5


def test_isolated_short_turn_is_kept():
    turns = [T("A", 0.0, 2.0), T("B", 3.0, 3.2), T("A", 4.0, 6.0)]  # a lone "yes", a second from anyone
    assert [t["speaker"] for t in smooth_turns(turns)] == ["A", "B", "A"]
    out = assign_speakers([W("yes", 3.02, 3.18)], turns)
    assert speakers(out) == ["SPEAKER_01"]


def test_a_run_of_flickers_collapses_without_looping_forever():
    turns = [T("A" if i % 2 else "B", i * 0.1, i * 0.1 + 0.1) for i in range(40)]
    smoothed = smooth_turns(turns)
    assert len(smoothed) == 1 and smoothed[0]["start"] == 0.0 and abs(smoothed[0]["end"] - 4.0) < 1e-9


def test_relabel_orders_by_first_appearance_and_rounds():
    out = relabel([T("SPEAKER_07", 2.0, 3.00001), T("SPEAKER_03", 0.0, 1.0), T("SPEAKER_07", 4.0, 5.0)])
    assert [t["speaker"] for t in out] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    assert out[0]["end"] == 1.0 and out[1]["end"] == 3.0


def test_many_words_and_turns_stay_fast():
    import time

    turns = [T("AB"[i % 2], i * 2.0, i * 2.0 + 1.9) for i in range(2000)]
    words = [W(f"w{i}", i * 0.4, i * 0.4 + 0.3) for i in range(10000)]
    started = time.time()
    out = assign_speakers(words, turns)
    assert time.time() - started < 5.0
    assert speakers(out)[:5] == ["SPEAKER_00"] * 5 and out[5]["speaker"] == "SPEAKER_01"


# ---------------------------------------------------------------- assemble with turns

TRANSCRIPT = transcript_from_words(
    [W("hi", 0.0, 0.3), W("there", 0.35, 0.7), W("hello", 0.9, 1.2), W("back", 1.25, 1.6)], 2.0
)
TURNS = [T("x", 0.0, 0.8), T("y", 0.8, 1.7)]


def test_assemble_splits_segments_at_speaker_changes_and_lists_speakers():
    result = assemble(TRANSCRIPT, "word", TURNS)
    assert result["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    assert [(s["speaker"], s["text"]) for s in result["segments"]] == [
        ("SPEAKER_00", "hi there"),
        ("SPEAKER_01", "hello back"),
    ]
    assert speakers(result["words"]) == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    assert [w for s in result["segments"] for w in s["words"]] == result["words"]


def test_assemble_segment_granularity_keeps_segment_speakers():
    result = assemble(TRANSCRIPT, "segment", TURNS)
    assert result["words"] == []
    assert [s["speaker"] for s in result["segments"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(s["words"] == [] for s in result["segments"])
    assert result["speakers"] == ["SPEAKER_00", "SPEAKER_01"]


def test_assemble_with_empty_turns_has_no_speakers():
    result = assemble(TRANSCRIPT, "word", [])
    assert result["speakers"] == [] and all(w["speaker"] is None for w in result["words"])
    assert len(result["segments"]) == 1


def test_sentence_final_word_takes_the_speaker_at_its_start():
    turns = [T("A", 0.0, 4.75), T("B", 4.8, 8.0)]
    out = assign_speakers([W("today?", 4.6, 5.1), W("today", 4.6, 5.1), W("Yes.", 4.78, 5.0)], turns)
    assert speakers(out) == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]  # "Yes." starts in the pause
