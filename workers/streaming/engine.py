"""Load a registry entry for streaming: the process-wide NeMo model plus the stepper its mode needs."""

from __future__ import annotations

import copy
import logging
from typing import Any

from core.settings import Settings
from registry import ModelEntry

logger = logging.getLogger(__name__)


def streaming_decoding(model) -> None:
    """Plain greedy-batch RNNT decoding: token frame indices come with it, no per-word post-processing."""
    from omegaconf import open_dict

    decoding = copy.deepcopy(model.cfg.decoding)
    with open_dict(decoding):
        decoding.strategy = "greedy_batch"
        decoding.compute_timestamps = False
        decoding.preserve_alignments = False
        decoding.pop("confidence_cfg", None)
    model.change_decoding_strategy(decoding, verbose=False)


def quantize_encoder(model, kind: str) -> None:
    """Dynamic int8 for the encoder's Linear layers: a CPU step is bound by reading the weights
    (2.4 GB fp32 for 0.6B), so int8 cuts it ~2.5x. Activations are quantized per call, so the
    output is close to, but not bit-identical with, the fp32 model."""
    import torch

    if kind != "int8":
        raise ValueError(f"BUDGIE_STREAM_QUANTIZE must be int8 or empty, not '{kind}'")
    if next(model.parameters()).device.type != "cpu":
        logger.warning("int8 dynamic quantization is CPU-only; ignoring it")
        return
    torch.ao.quantization.quantize_dynamic(model.encoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    logger.info("encoder Linear layers quantized to int8")


def build_steppers(entry: ModelEntry, config: Settings, model=None) -> dict[int, Any]:
    """The default stepper plus, for a cache-aware model, one per other trained attention context
    the registry lists (keyed by chunk_ms, the default first). They share one model."""
    from workers.streaming.stepper import CacheAwareStepper

    default = build_stepper(entry, config, model)
    steppers = {default.chunk_ms: default}
    if isinstance(default, CacheAwareStepper):
        supported = [list(c) for c in getattr(default.model.encoder, "att_context_size_all", [])]
        for ctx in entry.att_context_sizes:
            if list(ctx) in supported and list(ctx) != default.att_context_size:
                stepper = CacheAwareStepper(default.model, list(ctx))
                steppers.setdefault(stepper.chunk_ms, stepper)
        default.activate()
    return steppers


def build_stepper(entry: ModelEntry, config: Settings, model=None):
    """Return the stepper for ``entry``: cache-aware when the registry says so, else buffered windows."""
    from workers.engines.loader import get_model
    from workers.streaming.buffered import BufferedStepper
    from workers.streaming.stepper import CacheAwareStepper

    if entry.streaming == "none":
        raise ValueError(f"Model {entry.id} does not support streaming")
    from nemo.core.classes.common import typecheck

    # NeMo's per-call neural-type checks cost ~2 ms of a ~10 ms tiny-model step; this process only streams
    typecheck.set_typecheck_enabled(False)
    model = model if model is not None else get_model(entry, config.device)
    streaming_decoding(model)
    if config.stream_quantize:
        quantize_encoder(model, config.stream_quantize)
    if entry.streaming == "cache_aware":
        ctx = list(config.stream_att_context) if config.stream_att_context else None
        if ctx is None and entry.att_context_sizes:
            ctx = list(entry.att_context_sizes[0])  # the registry's default context
        supported = [list(c) for c in getattr(model.encoder, "att_context_size_all", [])]
        if ctx and supported and list(ctx) not in supported:
            logger.warning(
                "model %s does not support att_context_size=%s (supports %s); using %s",
                entry.id,
                ctx,
                supported,
                supported[0],
            )
            ctx = supported[0]
        stepper: CacheAwareStepper | BufferedStepper = CacheAwareStepper(model, ctx)
    else:
        stepper = BufferedStepper(model, config.stream_left_s, config.stream_chunk_s, config.stream_right_s)
    logger.info("streaming %s in %s mode, %d ms chunks", entry.id, stepper.mode, stepper.chunk_ms)
    return stepper
