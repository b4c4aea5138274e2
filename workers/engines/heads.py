"""The decoder heads of the Parakeet family behind one interface, chosen by registry fields.

Parakeet checkpoints share the FastConformer encoder and differ in the head: RNN-T, TDT (a
transducer that also predicts how many frames each token lasts) or CTC, and hybrids carrying a
transducer and a CTC head. The registry says which head to serve (``decoder``/``head``), never the
model name. Every head is reduced here to the same :class:`Tokens` (ids, start and end frames,
confidences), which batch and streaming both turn into words with the one word-time function
(:meth:`workers.engines.wordtimes.Detokenizer.words`):

- RNN-T: a token starts at the frame it was emitted on and lasts one frame.
- TDT: it lasts its predicted duration (at least one frame).
- CTC: it spans its run of frames in the greedy frame labels (repeats collapsed, blanks dropped).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from registry import ModelEntry


class HeadMismatchError(ValueError):
    """The loaded checkpoint does not have the head its registry entry names."""


@dataclass
class Tokens:
    """Decoded tokens of one hypothesis, in encoder frames of the decoded audio."""

    ids: list[int]
    starts: list[int]
    ends: list[int]
    confidences: list[float] | None = None


def model_kind(model: Any) -> tuple[str, bool]:
    """(main head, is hybrid) of a loaded NeMo model: ``rnnt``/``tdt``/``ctc`` and whether it also
    carries an auxiliary CTC head."""
    if not hasattr(model, "joint"):
        return "ctc", False
    loss = (model.cfg.get("loss") or {}).get("loss_name")
    kind = "tdt" if loss == "tdt" or (model.cfg.get("decoding") or {}).get("model_type") == "tdt" else "rnnt"
    return kind, hasattr(model, "ctc_decoder")


def select_head(model: Any, entry: ModelEntry) -> None:
    """Check the checkpoint against the registry entry and switch a hybrid to the head it names."""
    kind, hybrid = model_kind(model)
    if kind != entry.decoder:
        raise HeadMismatchError(
            f"Model {entry.id}: the registry says decoder {entry.decoder}, the checkpoint is {kind}"
        )
    if entry.head is not None and not hybrid:
        raise HeadMismatchError(f"Model {entry.id}: head {entry.head} needs a hybrid transducer+CTC checkpoint")
    if hybrid:
        model.change_decoding_strategy(decoder_type="ctc" if entry.head == "ctc" else "rnnt", verbose=False)
    supported = [list(c) for c in getattr(model.encoder, "att_context_size_all", None) or []]
    trained = [list(c) for c in entry.att_context_sizes if list(c) in supported]
    if trained:  # offline decoding of a cache-aware model: its longest trained lookahead (best accuracy)
        model.encoder.set_default_att_context_size(max(trained, key=lambda c: c[1]))


def uses_ctc(model: Any) -> bool:
    """True when the model decodes with a CTC head (a CTC model, or a hybrid switched to CTC)."""
    return not hasattr(model, "joint") or getattr(model, "cur_decoder", "rnnt") == "ctc"


def configure_batch_decoding(model: Any) -> None:
    """Ask the served head for what Budgie needs from ``transcribe()``: greedy tokens with frame
    timestamps and per-token confidence (transducers); CTC keeps its frame log-probs."""
    from omegaconf import open_dict

    if uses_ctc(model):
        hybrid = hasattr(model, "ctc_decoder")
        decoding = copy.deepcopy(model.cfg.aux_ctc.decoding if hybrid else model.cfg.decoding)
        with open_dict(decoding):
            decoding.strategy = "greedy_batch"
        if hybrid:
            model.change_decoding_strategy(decoding, decoder_type="ctc", verbose=False)
        else:
            model.change_decoding_strategy(decoding, verbose=False)
        return
    decoding = copy.deepcopy(model.cfg.decoding)
    with open_dict(decoding):
        decoding.compute_timestamps = True
        decoding.preserve_alignments = True
        # Token confidences only: NeMo's own word aggregation raises on some token sequences
        # ("Something went wrong with word-level confidence aggregation"), which would fail a
        # job; Budgie aggregates per word itself in Detokenizer.words.
        decoding.confidence_cfg = {
            "preserve_word_confidence": False,
            "preserve_token_confidence": True,
            "method_cfg": {"name": "max_prob"},
        }
    if hasattr(model, "ctc_decoder"):
        model.change_decoding_strategy(decoding, decoder_type="rnnt", verbose=False)
    else:
        model.change_decoding_strategy(decoding, verbose=False)


def blank_id(model: Any) -> int:
    """CTC blank: the last class, after the tokenizer's vocabulary."""
    return int(model.tokenizer.vocab_size)


def transducer_ends(starts: list[int], durations: list[int] | None) -> list[int]:
    """End frames of transducer tokens: the predicted duration (TDT) or one frame (RNN-T), at least one."""
    if durations is None:
        return [s + 1 for s in starts]
    return [s + max(1, int(d)) for s, d in zip(starts, durations, strict=True)]


def tokens_from_transducer(hyp: Any) -> Tokens:
    """Tokens of a transducer hypothesis from ``transcribe(...)`` with compute_timestamps set."""
    ids = _ints(getattr(hyp, "y_sequence", None))
    chars = (getattr(hyp, "timestamp", None) or {}).get("char") or []
    if ids and len(chars) != len(ids):
        raise ValueError("the model returned tokens without timestamps; is decoding.compute_timestamps set?")
    starts = [int(t["start_offset"]) for t in chars]
    ends = [max(int(t["end_offset"]), s + 1) for t, s in zip(chars, starts, strict=True)]
    scores = [float(c) for c in (getattr(hyp, "token_confidence", None) or [])]
    return Tokens(ids, starts, ends, scores if len(scores) == len(ids) else None)


def tokens_from_frame_labels(labels: list[int], blank: int, frame_scores: list[float] | None = None) -> Tokens:
    """Greedy CTC: collapse repeated frame labels, drop blanks; a token spans its run of frames and
    scores the best of its frames."""
    out = Tokens([], [], [], [] if frame_scores is not None else None)
    previous = blank
    for frame, label in enumerate(labels):
        if label != blank and label == previous:
            out.ends[-1] = frame + 1
            if out.confidences is not None and frame_scores is not None:
                out.confidences[-1] = max(out.confidences[-1], frame_scores[frame])
        elif label != blank:
            out.ids.append(label)
            out.starts.append(frame)
            out.ends.append(frame + 1)
            if out.confidences is not None and frame_scores is not None:
                out.confidences.append(frame_scores[frame])
        previous = label
    return out


def tokens_from_ctc(hyp: Any, blank: int) -> Tokens:
    """Tokens of a CTC hypothesis from ``transcribe(return_hypotheses=True)``: NeMo keeps the frame
    log-probs in ``y_sequence`` ([T, V+1]); the greedy label of each frame is their argmax."""
    import torch

    seq = hyp.y_sequence
    if isinstance(seq, torch.Tensor) and seq.dim() == 2:
        best = seq.float().max(dim=-1)
        return tokens_from_frame_labels(best.indices.tolist(), blank, best.values.exp().tolist())
    return tokens_from_frame_labels(_ints(seq), blank)


def tokens_from_hypothesis(model: Any, hyp: Any) -> Tokens:
    """Tokens of one ``transcribe()`` hypothesis of whichever head the model serves."""
    return tokens_from_ctc(hyp, blank_id(model)) if uses_ctc(model) else tokens_from_transducer(hyp)


def _ints(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
