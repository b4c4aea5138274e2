"""Device policy: CUDA when present; the CPU only when configured or when the model is CPU-capable."""

from __future__ import annotations

from registry import ModelEntry


class DeviceError(RuntimeError):
    """The model cannot run on the devices this process can see."""


def resolve_device(entry: ModelEntry, configured: str = "auto", cuda_available: bool | None = None) -> str:
    """Return ``"cuda"`` or ``"cpu"`` for ``entry`` or raise :class:`DeviceError` with what to do."""
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    configured = (configured or "auto").lower()
    if configured not in ("auto", "cuda", "cpu"):
        raise DeviceError(f"BUDGIE_DEVICE must be auto, cuda or cpu, not '{configured}'")
    if configured == "cpu":
        return "cpu"
    if cuda_available:
        return "cuda"
    if configured == "cuda":
        raise DeviceError(
            "BUDGIE_DEVICE=cuda but no CUDA device is visible to this worker "
            "(check the NVIDIA driver, the container's GPU reservation and CUDA_VISIBLE_DEVICES)."
        )
    if entry.supports_cpu:
        return "cpu"
    raise DeviceError(
        f"Model {entry.id} needs a CUDA GPU and none is visible to this worker. "
        f"Set BUDGIE_DEVICE=cpu to run it on the CPU anyway (slow), or use a CPU-capable model "
        f"such as parakeet-tiny-en."
    )
