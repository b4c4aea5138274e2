"""Word times from decoded tokens: the one function batch and streaming both use.

A decoder emits sub-word tokens, each at an encoder frame (80 ms for FastConformer). A word starts at
the frame of its first token and ends one frame after its last token (or at the end of the last
token's predicted duration, for TDT). RNNT emits a word only once it has heard it, so raw times run
late by a model-specific amount: the registry's measured ``timestamp_shift_s`` moves them back.
Batch (``engines.parakeet``) and streaming (``streaming.utterance``) call :meth:`Detokenizer.words`,
so the same tokens give the same words and times on both paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.transcript import Word, make_word

MIN_WORD_S = 0.08  # a shifted word keeps at least this much (or its raw length, if shorter) of time


def shift_word_times(
    words: list[Word], shift: tuple[float, float], limit_s: float, min_s: float = MIN_WORD_S
) -> list[Word]:
    """Move each word's (start, end) by the model's measured ``shift``, then put the words in sequence.

    A shifted word keeps at least ``min_s`` (or its raw length, if shorter) before it is sequenced:
    near the start of the audio the clamp at 0 would otherwise leave it no length at all.
    """
    start_shift, end_shift = shift
    out: list[Word] = []
    for word in words:
        floor = min(max(0.0, word["end"] - word["start"]), min_s)
        start = max(0.0, word["start"] + start_shift)
        out.append({**word, "start": start, "end": max(start + floor, word["end"] + end_shift)})
    return in_sequence(out, limit_s)


def in_sequence(words: list[Word], limit_s: float) -> list[Word]:
    """Make time-ordered words follow each other inside [0, ``limit_s``].

    Starts never go back; an end that passes the next word's start is cut there (spoken words follow
    each other). Words that share a start (several clamped to 0 by the shift, or emitted on one frame)
    keep their order: all but the last share, in equal parts, the time up to the earliest end among
    them (or the next word's start), and the last runs on to its own end. Each keeps a length, and no
    word moves by more than the shortest word of its group.
    """
    out: list[Word] = []
    for word in words:
        start = min(max(0.0, word["start"], out[-1]["start"] if out else 0.0), limit_s)
        out.append({**word, "start": start, "end": min(max(word["end"], start), limit_s)})
    i = 0
    while i < len(out):
        j = i
        while j + 1 < len(out) and out[j + 1]["start"] == out[i]["start"]:
            j += 1
        start = out[i]["start"]
        following = out[j + 1]["start"] if j + 1 < len(out) else limit_s
        step = (min(following, *(w["end"] for w in out[i : j + 1])) - start) / (j - i + 1)
        for k, word in enumerate(out[i : j + 1]):
            word["start"] = round(start + k * step, 3)
            word["end"] = round(start + (k + 1) * step if i + k < j else min(word["end"], following), 3)
        i = j + 1
    return out


class Detokenizer:
    """Token ids -> words with times and confidences, for one SentencePiece tokenizer (one per model)."""

    def __init__(self, tokenizer: Any, timestamp_shift: tuple[float, float] = (0.0, 0.0)):
        self.tokenizer = tokenizer
        self.timestamp_shift = timestamp_shift  # the registry's measured (start, end) word-time correction
        pieces = tokenizer.ids_to_tokens(list(range(tokenizer.vocab_size)))
        self._pieces = pieces
        self.starts_word = [p.startswith("▁") for p in pieces]
        # control pieces (<unk>, <EOU>, ...) are never text: they mark events, not words
        self.control = {i for i, p in enumerate(pieces) if p.startswith("<") and p.endswith(">") and len(p) > 2}
        # plain pieces detokenize by joining (no tokenizer call per word on every partial)
        self.plain = [None if i in self.control else p.replace("▁", "") for i, p in enumerate(pieces)]

    def token_id(self, piece: str | None) -> int | None:
        """The id of a whole piece such as ``<EOU>`` (None when the vocabulary has no such piece)."""
        if not piece:
            return None
        return next((i for i in sorted(self.control) if self._pieces[i] == piece), None)

    def text(self, ids: Sequence[int]) -> str:
        """The text of word pieces, exactly as the model wrote them (punctuation and capitals kept)."""
        return "".join(p for i in ids if (p := self.plain[i]) is not None)

    def words(
        self,
        ids: Sequence[int],
        frames: Sequence[int],
        frame_s: float,
        offset_s: float,
        limit_s: float = float("inf"),
        *,
        ends: Sequence[int] | None = None,
        confidences: Sequence[float] | None = None,
    ) -> list[Word]:
        """Group tokens into words and time them.

        :param frames: each token's encoder frame (absolute within the decoded audio).
        :param offset_s: stream or chunk time of frame 0.
        :param limit_s: the audio actually there (the last frame overhangs it); times are clamped to it.
        :param ends: each token's end frame (TDT durations); default frame + 1.
        :param confidences: per-token confidence; a word gets the lowest of its tokens.
        """
        groups: list[tuple[list[int], int, int, float | None]] = []
        for i, (token, frame) in enumerate(zip(ids, frames, strict=False)):
            if token in self.control:
                continue  # an <EOU> or <unk> piece is neither a word nor part of one
            end = ends[i] if ends is not None else frame + 1
            score = confidences[i] if confidences is not None and i < len(confidences) else None
            if not groups or self.starts_word[token]:
                groups.append(([token], frame, end, score))
            else:
                tokens, first, _, low = groups[-1]
                tokens.append(token)
                groups[-1] = (tokens, first, end, _lowest(low, score))
        words: list[Word] = []
        for tokens, first, last_end, score in groups:
            text = self.text(tokens)
            if text:
                words.append(make_word(text, offset_s + first * frame_s, offset_s + last_end * frame_s, score))
        return shift_word_times(words, self.timestamp_shift, limit_s)


def _lowest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
