"""The current utterance of a stream: tokens with frame times, turned into words and messages.

Tokens only ever get appended (greedy RNNT with carried decoder state), so partial text only
extends. At an endpoint the utterance is committed (``transcript.final``) and the token list is
cleared; the model state itself keeps running, so no word is decoded twice or dropped.
"""

from __future__ import annotations

import logging

from core.transcript import Word
from workers.engines.wordtimes import Detokenizer

logger = logging.getLogger(__name__)


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
        self.eou_id: int | None = None  # the model's end-of-utterance piece, if it has one

    def eou_index(self) -> int | None:
        """Where the model ended the utterance (the first <EOU> token not yet committed), if it did."""
        if self.eou_id is None or self.eou_id not in self.ids:
            return None
        return self.ids.index(self.eou_id)

    def add(self, ids: list[int], frames: list[int]) -> bool:
        self.ids.extend(ids)
        self.frames.extend(frames)
        return bool(ids)

    def words(self) -> list[Word]:
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

    def commit(
        self, with_words: bool, until_s: float | None = None, end_reason: str = "end", cut: int | None = None
    ) -> dict | None:
        """Return the ``transcript.final`` for the tokens before ``until_s`` (all if None; None if
        empty) and keep the rest as the start of the next utterance.

        ``cut``: commit the first ``cut`` tokens instead (an <EOU> at index ``cut`` is dropped: it ends
        the utterance and is never text). ``end_reason`` says what ended it (eou, vad, max_length,
        flush, end).
        """
        drop = 0
        if cut is not None:
            drop = 1 if cut < len(self.ids) and self.ids[cut] == self.eou_id else 0
        else:
            cut = len(self.ids)
        if until_s is not None:
            cut = sum(1 for f in self.frames if self.offset_s + f * self.frame_s < until_s)
            # never split a word: a word whose last pieces were emitted after the endpoint moves whole
            # into the next utterance (pieces are emitted late, so they can straddle the cut)
            while 0 < cut < len(self.ids) and not self.detok.starts_word[self.ids[cut]]:
                cut -= 1
        ids, frames = self.ids[:cut], self.frames[:cut]
        self.ids, self.frames, self.last_partial = self.ids[cut + drop :], self.frames[cut + drop :], ""
        words = self.detok.words(ids, frames, self.frame_s, self.offset_s, self.limit_s)
        if not words:
            return None
        msg = {
            "type": "transcript.final",
            "text": " ".join(w["text"] for w in words),
            "start": words[0]["start"],
            "end": words[-1]["end"],
            "end_reason": end_reason,
        }
        if with_words:
            msg["words"] = words
        return msg
