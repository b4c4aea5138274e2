"""The Parakeet engine: NeMo FastConformer-RNNT offline transcription with native word times."""
from __future__ import annotations

import copy
import logging

import numpy as np

from workers.engines.chunking import SAMPLE_RATE, split_long_audio
from workers.transcript import make_word, shift_word_times, transcript_from_words

logger = logging.getLogger(__name__)


def configure_decoding(model) -> None:
    """Ask the RNNT decoder for word timestamps and per-word confidence once, at load time."""
    from omegaconf import open_dict

    decoding = copy.deepcopy(model.cfg.decoding)
    with open_dict(decoding):
        decoding.compute_timestamps = True
        decoding.preserve_alignments = True
        # Token confidences only: NeMo's own word aggregation raises on some token sequences
        # ("Something went wrong with word-level confidence aggregation"), which would fail a
        # job; Budgie aggregates per word itself in words_from_hypothesis.
        decoding.confidence_cfg = {
            "preserve_word_confidence": False,
            "preserve_token_confidence": True,
            "method_cfg": {"name": "max_prob"},
        }
    model.change_decoding_strategy(decoding, verbose=False)


def frame_seconds(model) -> float:
    """Encoder frame length: preprocessor hop x subsampling (80 ms for FastConformer)."""
    hop = float(model.cfg.preprocessor.window_stride)
    return hop * int(model.cfg.encoder.get("subsampling_factor", 8))


def words_from_hypothesis(hyp, offset_s: float, frame_s: float, duration_s: float) -> list[dict]:
    """Normalise a NeMo hypothesis into Budgie words, shifted by ``offset_s`` and clamped to the audio."""
    stamps = (getattr(hyp, "timestamp", None) or {}).get("word") or []
    if not stamps and (getattr(hyp, "text", "") or "").strip():
        raise ValueError("the model returned text without word timestamps; is decoding.compute_timestamps set?")
    confidence_of = _word_confidence(hyp)
    words = []
    for stamp in stamps:
        text = (stamp.get("word") or "").strip()
        if not text:
            continue
        start = stamp.get("start")
        end = stamp.get("end")
        if start is None:
            start = stamp["start_offset"] * frame_s
        if end is None:
            end = stamp["end_offset"] * frame_s
        start = min(max(0.0, offset_s + float(start)), duration_s)
        end = min(max(start, offset_s + float(end)), duration_s)
        words.append(make_word(text, start, end, confidence_of(stamp)))
    return words


def _word_confidence(hyp):
    """Return ``stamp -> confidence``: the lowest token confidence inside the word's frames.

    Tokens are matched to words by frame offset, not by counting sub-word pieces, so an odd
    token sequence can never misalign or fail the job.
    """
    tokens = (getattr(hyp, "timestamp", None) or {}).get("char") or []
    scores = [float(c) for c in (getattr(hyp, "token_confidence", None) or [])]
    pairs = [(t.get("start_offset"), c) for t, c in zip(tokens, scores)] if len(tokens) == len(scores) else []

    def confidence(stamp: dict) -> float | None:
        first, last = stamp.get("start_offset"), stamp.get("end_offset")
        if first is None or last is None:
            return None
        inside = [c for offset, c in pairs if offset is not None and first <= offset <= last]
        return min(inside) if inside else None

    return confidence


def transcribe_audio(model, audio: np.ndarray, *, max_chunk_s: float = 60.0, batch_size: int = 4,
                     language: str = "en", timestamp_shift: tuple[float, float] = (0.0, 0.0)) -> dict:
    """Transcribe 16 kHz mono float32 ``audio`` and return a Budgie transcript dict.

    ``timestamp_shift`` is the registry's measured (start, end) correction of the model's word times.
    """
    import torch

    duration = len(audio) / SAMPLE_RATE
    chunks = [c for c in split_long_audio(audio, max_chunk_s) if c[1] - c[0] >= SAMPLE_RATE // 10]
    frame_s = frame_seconds(model)
    words: list[dict] = []
    if chunks:
        pieces = [np.ascontiguousarray(audio[s:e], dtype=np.float32) for s, e in chunks]
        with torch.inference_mode():
            hyps = model.transcribe(pieces, batch_size=batch_size, return_hypotheses=True, verbose=False)
        if isinstance(hyps, tuple):  # some NeMo versions return (best, all)
            hyps = hyps[0]
        for (start, _), hyp in zip(chunks, hyps):
            words.extend(words_from_hypothesis(hyp, start / SAMPLE_RATE, frame_s, duration))
    words = shift_word_times(words, timestamp_shift, duration)
    logger.info("transcribed %.1fs of audio in %d chunk(s): %d words", duration, len(chunks), len(words))
    return transcript_from_words(words, duration, language)
