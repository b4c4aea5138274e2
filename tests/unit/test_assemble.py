from core.transcript import make_word, transcript_from_words
from workers.assemble import assemble

WORDS = [make_word("one", 0.0, 0.3), make_word("two", 0.4, 0.7), make_word("three", 2.0, 2.4)]
TRANSCRIPT = transcript_from_words(WORDS, 3.0)


def test_word_granularity_splits_segments_at_pauses():
    result = assemble(TRANSCRIPT, "word")
    assert result["text"] == "one two three" and result["duration"] == 3.0
    assert [s["text"] for s in result["segments"]] == ["one two", "three"]
    assert [s["id"] for s in result["segments"]] == [0, 1]
    assert result["words"] == [w for s in result["segments"] for w in s["words"]]


def test_segment_and_none_granularity_drop_word_times():
    seg = assemble(TRANSCRIPT, "segment")
    assert seg["words"] == [] and [s["start"] for s in seg["segments"]] == [0.0, 2.0]
    assert all(s["words"] == [] for s in seg["segments"])
    none = assemble(TRANSCRIPT, "none")
    assert none["segments"] == [] and none["text"] == "one two three"


def test_empty_transcript():
    result = assemble(transcript_from_words([], 1.0), "word")
    assert result["text"] == "" and result["segments"] == [] and result["words"] == []
