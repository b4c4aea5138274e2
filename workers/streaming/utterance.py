"""The current utterance of a stream: tokens with frame times, turned into words and messages.

Tokens only ever get appended (greedy RNNT with carried decoder state), so partial text only
extends. At an endpoint the utterance is committed (``transcript.final``) and the token list is
cleared; the model state itself keeps running, so no word is decoded twice or dropped.
"""
from __future__ import annotations

import logging

from workers.transcript import shift_word_times

logger = logging.getLogger(__name__)


class Detokenizer:
    """Maps token ids to pieces and words for one SentencePiece tokenizer (cached per model)."""

    def __init__(self, tokenizer, timestamp_shift: tuple[float, float] = (0.0, 0.0)):
        self.tokenizer = tokenizer
        self.timestamp_shift = timestamp_shift  # the registry's measured (start, end) word-time correction
        vocab = tokenizer.vocab_size
        pieces = tokenizer.ids_to_tokens(list(range(vocab)))
        self.starts_word = [p.startswith("▁") for p in pieces]
        # plain pieces detokenize by joining (no tokenizer call per word on every partial)
        self.plain = [p.replace("▁", "") if not (p.startswith("<") and p.endswith(">")) else None for p in pieces]

    def text(self, ids: list[int]) -> str:
        parts = [self.plain[i] for i in ids]
        if any(p is None for p in parts):
            return self.tokenizer.ids_to_text(ids).strip()
        return "".join(parts)

    def words(self, ids: list[int], frames: list[int], frame_s: float, offset_s: float,
              limit_s: float = float("inf")) -> list[dict]:
        """Group tokens into words: ``start`` = first token's frame, ``end`` = last token's frame + 1,
        moved by the model's timestamp shift and clamped to ``limit_s`` (the audio actually received;
        the last frame overhangs it)."""
        groups: list[tuple[list[int], int, int]] = []
        for tok, frame in zip(ids, frames):
            if not groups or self.starts_word[tok]:
                groups.append(([tok], frame, frame))
            else:
                groups[-1][0].append(tok)
                groups[-1] = (groups[-1][0], groups[-1][1], frame)
        words = []
        for toks, first, last in groups:
            text = self.text(toks)
            if text:
                start = offset_s + first * frame_s
                end = offset_s + (last + 1) * frame_s
                words.append({"text": text, "start": round(start, 3), "end": round(end, 3)})
        return shift_word_times(words, self.timestamp_shift, limit_s)


class Utterance:
    """Tokens decoded since the last final."""

    def __init__(self, detok: Detokenizer, frame_s: float):
        self.detok = detok
        self.frame_s = frame_s
        self.ids: list[int] = []
        self.frames: list[int] = []
        self.offset_s = 0.0  # stream time of frame 0 of the current model stream (moves on flush)
        self.limit_s = float("inf")  # stream time of the last sample received
        self.last_partial = ""

    def add(self, ids: list[int], frames: list[int]) -> bool:
        self.ids.extend(ids)
        self.frames.extend(frames)
        return bool(ids)

    def words(self) -> list[dict]:
        return self.detok.words(self.ids, self.frames, self.frame_s, self.offset_s, self.limit_s)

    def start_s(self) -> float | None:
        return None if not self.frames else self.offset_s + self.frames[0] * self.frame_s

    def partial(self) -> dict | None:
        """A ``transcript.partial`` if the text grew since the last one."""
        words = self.words()
        text = " ".join(w["text"] for w in words)
        if not text or text == self.last_partial:
            return None
        self.last_partial = text
        return {"type": "transcript.partial", "text": text, "start": words[0]["start"], "end": words[-1]["end"]}

    def commit(self, with_words: bool, until_s: float | None = None) -> dict | None:
        """Return the ``transcript.final`` for the tokens before ``until_s`` (all if None; None if
        empty) and keep the rest as the start of the next utterance."""
        cut = len(self.ids)
        if until_s is not None:
            cut = sum(1 for f in self.frames if self.offset_s + f * self.frame_s < until_s)
            # never split a word: a word whose last pieces were emitted after the endpoint moves whole
            # into the next utterance (pieces are emitted late, so they can straddle the cut)
            while 0 < cut < len(self.ids) and not self.detok.starts_word[self.ids[cut]]:
                cut -= 1
        ids, frames = self.ids[:cut], self.frames[:cut]
        self.ids, self.frames, self.last_partial = self.ids[cut:], self.frames[cut:], ""
        words = self.detok.words(ids, frames, self.frame_s, self.offset_s, self.limit_s)
        if not words:
            return None
        msg = {"type": "transcript.final", "text": " ".join(w["text"] for w in words),
               "start": words[0]["start"], "end": words[-1]["end"]}
        if with_words:
            msg["words"] = words
        return msg
