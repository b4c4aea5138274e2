"""pyannote.audio pipelines (``pyannote/speaker-diarization-community-1`` or ``-3.1``), hub or local.

pyannote's pretrained weights are gated on the Hugging Face hub (a token from ``HF_TOKEN``) or come
from a local directory holding ``config.yaml`` plus the model folders. Every way loading can fail
becomes :class:`DiarizerUnavailable` with a message that says what to set, never a stack trace.
Audio goes to the pipeline in memory: pyannote 4 decodes files with torchcodec, which often fails
to load next to a CPU-only torch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workers.engines.diarization.base import DiarizerUnavailable, SpeakerBounds

logger = logging.getLogger(__name__)

HINT = (
    "Set BUDGIE_DIARIZER=embedded to use the built-in offline diarizer, or "
    "BUDGIE_DIARIZER_FALLBACK=embedded to fall back to it automatically."
)


def _pipeline_class():
    try:
        from pyannote.audio import Pipeline
    except Exception as exc:  # ImportError, or OSError when torchaudio's binaries do not match torch
        raise DiarizerUnavailable(
            f"pyannote.audio is not usable in this worker ({type(exc).__name__}: {exc}). {HINT}"
        ) from exc
    return Pipeline


def _from_hub(pipeline_class, model: str, token: str | None):
    try:
        return pipeline_class.from_pretrained(model, token=token)  # pyannote.audio 4
    except TypeError:
        return pipeline_class.from_pretrained(model, use_auth_token=token)  # pyannote.audio 3.x


def load_pipeline(source: str, token: str | None = None, device: str = "cpu"):
    """Load a pyannote pipeline from a local directory (``config.yaml``) or a hub id, onto ``device``."""
    pipeline_class = _pipeline_class()
    local = Path(source).expanduser()
    is_local = local.exists() or source.startswith(("/", ".", "~"))
    if is_local and not (local / "config.yaml").is_file() and not local.is_file():
        raise DiarizerUnavailable(
            f"the pyannote pipeline directory {local} has no config.yaml (BUDGIE_PYANNOTE_MODEL). {HINT}"
        )
    try:
        pipeline = pipeline_class.from_pretrained(str(local)) if is_local else _from_hub(pipeline_class, source, token)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = (
            "from the local directory"
            if is_local
            else (
                "from the Hugging Face hub (weights not cached and the hub is unreachable, or the token "
                "lacks access; set HF_TOKEN and accept the model's conditions)"
            )
        )
        raise DiarizerUnavailable(f"could not load the pyannote pipeline {source!r} {where}: {reason}. {HINT}") from exc
    if pipeline is None:  # pyannote returns None for a gated model without a valid token
        raise DiarizerUnavailable(
            f"the pyannote pipeline {source!r} is gated: set HF_TOKEN to a token that "
            f"has accepted its conditions, or point BUDGIE_PYANNOTE_MODEL at a local copy. "
            f"{HINT}"
        )
    import torch

    pipeline.to(torch.device(device))
    logger.info("loaded pyannote pipeline %s on %s", source, device)
    return pipeline


def annotation_to_turns(annotation) -> list[dict]:
    """pyannote ``Annotation`` -> ``[{speaker, start, end}]`` sorted by start."""
    turns = [
        {"speaker": str(label), "start": round(float(seg.start), 3), "end": round(float(seg.end), 3)}
        for seg, _, label in annotation.itertracks(yield_label=True)
    ]
    return sorted(turns, key=lambda t: (t["start"], t["end"]))


def clip_turns(turns: list[dict], duration: float) -> list[dict]:
    """Keep turns inside the audio: pyannote's last, padded chunk can reach past the end."""
    out = []
    for t in turns:
        start, end = max(0.0, t["start"]), min(duration, t["end"])
        if end > start:
            out.append({**t, "start": round(start, 3), "end": round(end, 3)})
    return out


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, source: str, token: str | None = None, device: str = "cpu"):
        self.source, self.token, self.device = source, token, device
        self.pipeline: Any = None

    def load(self) -> PyannoteDiarizer:
        self.pipeline = load_pipeline(self.source, self.token, self.device)
        return self

    def diarize(self, wav: Path, bounds: SpeakerBounds = SpeakerBounds()) -> list[dict]:
        import torch

        from core.audio import SAMPLE_RATE, read_wav
        from workers.engines.diarization.turns import label_in_order

        if self.pipeline is None:
            self.load()
        audio = read_wav(wav)
        waveform = torch.from_numpy(audio)[None]
        output = self.pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **bounds.as_kwargs())
        # pyannote 4 returns DiarizeOutput; its exclusive diarization (one speaker at a time) is the one
        # meant for reconciling with word timestamps. pyannote 3.x returns an Annotation.
        annotation = getattr(output, "exclusive_speaker_diarization", None) or getattr(
            output, "speaker_diarization", output
        )
        return label_in_order(clip_turns(annotation_to_turns(annotation), len(audio) / SAMPLE_RATE))
