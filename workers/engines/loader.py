"""Load a registry entry's NeMo model once per process, from the hub or from a local .nemo file."""

from __future__ import annotations

import hashlib
import logging
import threading

from core.metrics import MODEL_LOADED
from registry import ModelEntry
from workers.engines.device import resolve_device
from workers.engines.heads import HeadMismatchError, select_head
from workers.engines.parakeet import configure_decoding

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_models: dict[str, object] = {}


class ModelLoadError(RuntimeError):
    """The weights could not be found or read."""


def load_nemo_model(entry: ModelEntry, device: str):
    """Restore ``entry`` onto ``device``: ``restore_from`` for a local path, ``from_pretrained`` for a hub id."""
    import os

    import torch
    from nemo.collections.asr.models import ASRModel

    map_location = torch.device(device)
    if entry.path:
        if not os.path.exists(entry.path):
            raise ModelLoadError(f"Model {entry.id}: weights file {entry.path} does not exist")
        verify_sha256(entry)
        model = ASRModel.restore_from(entry.path, map_location=map_location)
    else:
        try:
            model = ASRModel.from_pretrained(entry.hub, map_location=map_location)
        except Exception as exc:  # network/hub errors surface with many types
            raise ModelLoadError(f"Model {entry.id}: could not load '{entry.hub}' from the hub: {exc}") from exc
    model.eval()
    try:
        select_head(model, entry)  # the registry's decoder/head, checked against the checkpoint
    except HeadMismatchError as exc:
        raise ModelLoadError(str(exc)) from exc
    return model


def verify_sha256(entry: ModelEntry) -> None:
    """Refuse a local weights file whose sha256 differs from the registry's (damaged, truncated or swapped)."""
    if not entry.sha256 or not entry.path:
        return
    digest = hashlib.sha256()
    with open(entry.path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != entry.sha256.lower():
        raise ModelLoadError(
            f"Model {entry.id}: {entry.path} has sha256 {digest.hexdigest()}, but the registry expects {entry.sha256}"
        )


def get_model(entry: ModelEntry, configured_device: str = "auto"):
    """Return the process-wide instance of ``entry``'s model, loading it on first use."""
    with _lock:
        model = _models.get(entry.id)
        if model is None:
            device = resolve_device(entry, configured_device)
            if device == "cpu" and not entry.supports_cpu:
                logger.warning(
                    "model %s runs on the CPU because BUDGIE_DEVICE=cpu: expect it to be many times slower "
                    "than on a GPU",
                    entry.id,
                )
            logger.info("loading model %s on %s", entry.id, device)
            model = load_nemo_model(entry, device)
            configure_decoding(model)
            _models[entry.id] = model
            MODEL_LOADED.labels(entry.id).set(1)
        return model


def loaded_model_ids() -> list[str]:
    with _lock:
        return sorted(_models)
