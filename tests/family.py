"""Random-weight stand-ins for each Parakeet architecture family, built from configs (scaled down).

Each is the same NeMo class and config shape as its hub counterpart (TDT, CTC, hybrid TDT+CTC,
cache-aware RNNT with an ``<EOU>`` piece, cache-aware multi-lookahead hybrid RNNT+CTC), at the
"test" size, so the real loader, heads, batch engine and streaming steppers run on them. The .nemo
files are cached next to the other test models; the registry entries point at them.
"""

from __future__ import annotations

import os
from pathlib import Path

FAMILY_VERSION = "f3"  # bump when a build below changes
MULTI_CONTEXTS = [[70, 13], [70, 6], [70, 1], [70, 0]]  # as stt_en_fastconformer_hybrid_large_streaming_multi

#: checkpoint name -> train.architectures.rnnt_config options
BUILDS: dict[str, dict] = {
    "tdt": {"decoder": "tdt", "att_context_size": [-1, -1]},
    "ctc": {"decoder": "ctc", "att_context_size": [-1, -1]},
    "tdt-ctc": {"decoder": "tdt", "hybrid_ctc": True, "att_context_size": [-1, -1]},
    "eou": {"eou": True, "att_context_size": [[70, 1]]},
    "multi": {"hybrid_ctc": True, "att_context_size": MULTI_CONTEXTS},
}

#: registry entry id -> (checkpoint, registry fields)
ENTRIES: dict[str, tuple[str, dict]] = {
    "family-tdt": ("tdt", {"decoder": "tdt", "streaming": "buffered"}),
    "family-ctc": ("ctc", {"decoder": "ctc", "streaming": "none"}),
    "family-tdt-ctc": ("tdt-ctc", {"decoder": "tdt", "head": "transducer", "streaming": "buffered"}),
    "family-tdt-ctc-on-ctc": ("tdt-ctc", {"decoder": "tdt", "head": "ctc", "streaming": "none"}),
    "family-eou": (
        "eou",
        {"decoder": "rnnt", "streaming": "cache_aware", "att_context_sizes": [[70, 1]], "eou_token": "<EOU>"},
    ),
    "family-multi": (
        "multi",
        {"decoder": "rnnt", "head": "transducer", "streaming": "cache_aware", "att_context_sizes": MULTI_CONTEXTS},
    ),
}


def _cache() -> Path:
    from tests.conftest import CACHE

    return CACHE


def checkpoint_path(name: str, cache: Path | None = None) -> Path:
    return (cache or _cache()) / f"family-{name}-{FAMILY_VERSION}.nemo"


def build_checkpoints() -> dict[str, Path]:
    """Build (once, cached) every family checkpoint; returns name -> .nemo path."""
    from train.architectures import build_and_save

    _cache().mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, options in BUILDS.items():
        path = checkpoint_path(name)
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp.nemo")
            # transducers emit at a trained model's rate (~0.3 tokens per frame), not on every frame
            rate = None if options.get("decoder") == "ctc" else 0.3
            build_and_save(tmp, "test", seed=0, dropout=0.0, tokens_per_frame=rate, **options)
            if options.get("decoder") == "tdt":
                _vary_durations(tmp)
            tmp.replace(path)
        paths[name] = path
    return paths


def registry_models(cache: Path) -> list[dict]:
    """Registry entries of the family stand-ins (conftest adds them to the test registry; the
    checkpoints are built by :func:`build_checkpoints` when a test first needs them)."""
    return [
        {
            "id": entry_id,
            "name": f"{entry_id} (random weights)",
            "engine": "parakeet",
            "source": {"path": str(checkpoint_path(checkpoint, cache))},
            "tier": "test",
            "languages": ["en"],
            "word_timestamps": True,
            "supports_cpu": True,
            **fields,
        }
        for entry_id, (checkpoint, fields) in ENTRIES.items()
    ]


def _vary_durations(path: Path) -> None:
    """Random TDT joints predict one frame for nearly every token; favour two frames (durations are
    the joint's last outputs, [0, 1, 2, 3, 4]) so tests see tokens that really last longer."""
    import torch
    from nemo.collections.asr.models import ASRModel

    model = ASRModel.restore_from(str(path), map_location="cpu")
    with torch.no_grad():
        model.joint.joint_net[-1].bias[-5:] += torch.tensor([-4.0, 0.0, 1.5, 0.5, -4.0])
    model.save_to(str(path))
