"""The Parakeet engine: offline transcription with any Parakeet head (RNN-T, TDT, CTC, hybrid), native word times."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from core.audio import SAMPLE_RATE
from core.transcript import Transcript, Word, transcript_from_words
from workers.engines.chunking import split_long_audio
from workers.engines.heads import Tokens, configure_batch_decoding, tokens_from_hypothesis, tokens_from_transducer
from workers.engines.wordtimes import Detokenizer, in_sequence

logger = logging.getLogger(__name__)


def configure_decoding(model) -> None:
    """Ask the served head for word timestamps and per-token confidence once, at load time."""
    configure_batch_decoding(model)


def frame_seconds(model) -> float:
    """Encoder frame length: preprocessor hop x subsampling (80 ms for FastConformer)."""
    hop = float(model.cfg.preprocessor.window_stride)
    return hop * int(model.cfg.encoder.get("subsampling_factor", 8))


def words_from_hypothesis(
    hyp: Any, detok: Detokenizer, offset_s: float, frame_s: float, limit_s: float, model: Any = None
) -> list[Word]:
    """Budgie words from one NeMo hypothesis of a chunk starting at ``offset_s`` (token frames are
    relative to the chunk), timed by the shared word-time function. ``model`` says which head made
    it (default: a transducer)."""
    tokens = tokens_from_hypothesis(model, hyp) if model is not None else tokens_from_transducer(hyp)
    return words_from_tokens(tokens, detok, offset_s, frame_s, limit_s)


def words_from_tokens(
    tokens: Tokens, detok: Detokenizer, offset_s: float, frame_s: float, limit_s: float
) -> list[Word]:
    """The one way tokens of any head become words (batch; streaming calls the same Detokenizer.words)."""
    return detok.words(
        tokens.ids,
        tokens.starts,
        frame_s,
        offset_s,
        limit_s,
        ends=tokens.ends,
        confidences=tokens.confidences,
    )


_detokenizers: weakref.WeakKeyDictionary[Any, Detokenizer] = weakref.WeakKeyDictionary()


def detokenizer(model: Any, timestamp_shift: tuple[float, float]) -> Detokenizer:
    """The model's detokenizer (built once per model and shift)."""
    detok = _detokenizers.get(model)
    if detok is None or detok.timestamp_shift != timestamp_shift:
        detok = _detokenizers[model] = Detokenizer(model.tokenizer, timestamp_shift)
    return detok


def transcribe_audio(
    model: Any,
    audio: np.ndarray,
    *,
    max_chunk_s: float = 60.0,
    batch_size: int = 4,
    language: str = "en",
    timestamp_shift: tuple[float, float] = (0.0, 0.0),
    on_progress: Callable[[int, int, list[Word]], None] | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono float32 ``audio`` and return a Budgie transcript dict.

    ``timestamp_shift`` is the registry's measured (start, end) correction of the model's word times.
    Chunks are decoded ``batch_size`` at a time; after each batch ``on_progress(done, total, words)``
    is called with the words so far, and may raise to stop (a cancelled job).
    """
    import torch

    duration = len(audio) / SAMPLE_RATE
    chunks = [c for c in split_long_audio(audio, max_chunk_s) if c[1] - c[0] >= SAMPLE_RATE // 10]
    frame_s = frame_seconds(model)
    detok = detokenizer(model, timestamp_shift)
    words: list[Word] = []
    for first in range(0, len(chunks), batch_size):
        batch = chunks[first : first + batch_size]
        pieces = [np.ascontiguousarray(audio[s:e], dtype=np.float32) for s, e in batch]
        with torch.inference_mode():
            hyps = model.transcribe(pieces, batch_size=batch_size, return_hypotheses=True, verbose=False)
        if isinstance(hyps, tuple):  # some NeMo versions return (best, all)
            hyps = hyps[0]
        for (start, end), hyp in zip(batch, hyps, strict=True):
            words.extend(words_from_hypothesis(hyp, detok, start / SAMPLE_RATE, frame_s, end / SAMPLE_RATE, model))
        words = in_sequence(words, duration)  # chunks cut in pauses overlap by their padding
        if on_progress is not None:
            on_progress(first + len(batch), len(chunks), words)
    logger.info("transcribed %.1fs of audio in %d chunk(s): %d words", duration, len(chunks), len(words))
    return transcript_from_words(words, duration, language)
