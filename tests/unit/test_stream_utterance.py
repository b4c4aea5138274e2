"""Words, partials and finals built from streamed tokens (real SentencePiece tokenizer of the test model)."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import TEST_MODEL


@pytest.fixture(scope="module")
def detok(test_model_paths):
    from nemo.collections.asr.models import ASRModel

    from workers.engines.wordtimes import Detokenizer

    model = ASRModel.restore_from(str(test_model_paths[TEST_MODEL]), map_location="cpu")
    return Detokenizer(model.tokenizer)


def ids_for(detok, text: str) -> list[int]:
    return detok.tokenizer.text_to_ids(text)


def test_words_group_pieces_and_use_frame_times(detok):
    ids = ids_for(detok, "the quick brown fox")
    frames = list(range(0, 2 * len(ids), 2))
    words = detok.words(ids, frames, 0.08, offset_s=1.0)
    assert [w["text"] for w in words] == ["the", "quick", "brown", "fox"]
    assert words[0]["start"] == 1.0
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(words))
    assert words[-1]["end"] == round(1.0 + (frames[-1] + 1) * 0.08, 3)
    clamped = detok.words(ids, frames, 0.08, offset_s=0.0, limit_s=0.2)
    assert all(w["end"] <= 0.2 for w in clamped)
    assert detok.text(ids) == detok.tokenizer.ids_to_text(ids).replace(" ", "")


def test_partials_only_extend_and_commit_splits_at_endpoint(detok):
    from workers.streaming.utterance import Utterance

    u = Utterance(detok, 0.08)
    ids = ids_for(detok, "she sells sea shells by the sea shore")
    seen = []
    for i, tok in enumerate(ids):
        u.add([tok], [i * 3])
        msg = u.partial()
        if msg:
            assert not seen or msg["text"].startswith(seen[-1])
            seen.append(msg["text"])
    assert seen[-1] == "she sells sea shells by the sea shore"
    assert u.partial() is None  # unchanged text is not re-sent
    cut = 3 * ids.index(ids_for(detok, "by")[0]) * 0.08 if ids_for(detok, "by")[0] in ids else 1.0
    final = u.commit(with_words=True, until_s=cut)
    assert final["type"] == "transcript.final" and final["words"][-1]["end"] <= cut + 0.08 * 3
    rest = u.commit(with_words=False)
    assert "words" not in rest
    assert (final["text"] + " " + rest["text"]).split() == seen[-1].split()
    assert u.commit(with_words=True) is None  # nothing left


def test_commit_never_splits_a_word(detok):
    from workers.streaming.utterance import Utterance

    u = Utterance(detok, 0.08)
    ids = ids_for(detok, "understanding")
    assert len(ids) > 1, "needs a multi-piece word"
    head = ids_for(detok, "we")
    u.add(head + ids, list(range(len(head) + len(ids))))
    # endpoint falls after the first pieces of the long word: the whole word moves to the next utterance
    final = u.commit(with_words=False, until_s=(len(head) + 2) * 0.08 - 0.01)
    assert final["text"] == "we"
    assert u.commit(with_words=False)["text"] == "understanding"


def test_timestamp_shift_moves_and_clamps_words(detok):
    from workers.engines.wordtimes import Detokenizer

    shifted = Detokenizer(detok.tokenizer, timestamp_shift=(-0.5, -0.2))
    ids = ids_for(detok, "the quick brown fox")
    frames = [10, 20, 30, 40]
    plain = detok.words(ids, frames, 0.08, offset_s=0.0)
    moved = shifted.words(ids, frames, 0.08, offset_s=0.0, limit_s=3.0)
    for a, b in zip(plain, moved, strict=False):
        assert b["start"] == round(max(0.0, a["start"] - 0.5), 3)
        assert b["end"] == min(round(a["end"] - 0.2, 3), 3.0) and b["end"] >= b["start"]
    assert [w["start"] for w in moved] == sorted(w["start"] for w in moved)


def test_shifted_words_never_overlap(detok):
    """Pieces emitted two frames apart: the larger start shift would make each end pass the next start."""
    from workers.engines.wordtimes import Detokenizer

    shifted = Detokenizer(detok.tokenizer, timestamp_shift=(-0.5, -0.2))
    ids = ids_for(detok, "the quick brown fox")
    frames = [10 + 2 * k for k in range(len(ids))]  # one piece every 160 ms
    words = shifted.words(ids, frames, 0.08, offset_s=0.0, limit_s=9.0)
    assert len(words) == 4
    for word, following in itertools.pairwise(words):
        assert word["start"] <= word["end"] <= following["start"]
    raw = detok.words(ids, frames, 0.08, offset_s=0.0)
    assert any(w["end"] < round(r["end"] - 0.2, 3) for w, r in zip(words, raw, strict=False)), (
        "no end was cut at its successor"
    )
    assert words[-1]["end"] == round((frames[-1] + 1) * 0.08 - 0.2, 3)  # the last word keeps its shifted end
