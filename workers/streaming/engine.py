"""Load a registry entry for streaming: the process-wide NeMo model plus the stepper its mode needs."""
from __future__ import annotations

import copy
import logging

from registry import ModelEntry
from workers.streaming.config import StreamConfig

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


def build_stepper(entry: ModelEntry, config: StreamConfig, model=None):
    """Return the stepper for ``entry``: cache-aware when the registry says so, else buffered windows."""
    from workers.engines.loader import get_model
    from workers.streaming.buffered import BufferedStepper
    from workers.streaming.stepper import CacheAwareStepper

    if entry.streaming == "none":
        raise ValueError(f"Model {entry.id} does not support streaming")
    model = model if model is not None else get_model(entry, config.device)
    streaming_decoding(model)
    if entry.streaming == "cache_aware":
        ctx = config.att_context_size
        supported = [list(c) for c in getattr(model.encoder, "att_context_size_all", [])]
        if ctx and supported and list(ctx) not in supported:
            logger.warning("model %s does not support att_context_size=%s (supports %s); using %s",
                           entry.id, ctx, supported, supported[0])
            ctx = supported[0]
        stepper = CacheAwareStepper(model, ctx)
    else:
        stepper = BufferedStepper(model, config.buffer_left_s, config.buffer_chunk_s, config.buffer_right_s)
    logger.info("streaming %s in %s mode, %d ms chunks", entry.id, stepper.mode, stepper.chunk_ms)
    return stepper
