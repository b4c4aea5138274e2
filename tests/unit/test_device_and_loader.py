"""Device policy and the hub/local loading paths (the hub is unreachable here, which we test for real)."""

import pytest

from core.catalog import registry
from workers.engines.device import DeviceError, resolve_device
from workers.engines.loader import ModelLoadError, load_nemo_model

GPU_MODEL = registry().resolve("parakeet-0.6b")
CPU_MODEL = registry().resolve("parakeet-tiny-en")


def test_cuda_is_preferred_when_present():
    assert resolve_device(GPU_MODEL, "auto", cuda_available=True) == "cuda"
    assert resolve_device(CPU_MODEL, "auto", cuda_available=True) == "cuda"


def test_gpu_model_without_cuda_fails_fast_with_advice():
    with pytest.raises(DeviceError, match=r"needs a CUDA GPU.*BUDGIE_DEVICE=cpu"):
        resolve_device(GPU_MODEL, "auto", cuda_available=False)
    with pytest.raises(DeviceError, match="no CUDA device"):
        resolve_device(CPU_MODEL, "cuda", cuda_available=False)


def test_cpu_when_configured_or_cpu_capable():
    assert resolve_device(GPU_MODEL, "cpu", cuda_available=False) == "cpu"
    assert resolve_device(CPU_MODEL, "auto", cuda_available=False) == "cpu"
    with pytest.raises(DeviceError):
        resolve_device(CPU_MODEL, "tpu", cuda_available=False)


def test_real_torch_decides_the_device_on_this_machine():
    """With torch's own answer (no override): CUDA where a GPU is visible, else the CPU for CPU-capable models."""
    import torch

    if torch.cuda.is_available():
        assert resolve_device(CPU_MODEL) == resolve_device(GPU_MODEL) == "cuda"
    else:
        assert resolve_device(CPU_MODEL) == "cpu"
        with pytest.raises(DeviceError, match="needs a CUDA GPU"):
            resolve_device(GPU_MODEL)


def test_hub_load_failure_is_a_clear_error(monkeypatch):
    """The real from_pretrained path, offline: it must fail with a message naming the model."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"parakeet-0\.6b.*nvidia/parakeet-rnnt-0\.6b"):
        load_nemo_model(GPU_MODEL, "cpu")


def test_missing_local_weights_is_a_clear_error(tmp_path):
    from dataclasses import replace

    entry = replace(CPU_MODEL, path=str(tmp_path / "absent.nemo"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_nemo_model(entry, "cpu")


def test_shipped_weights_match_the_registry_checksum(tmp_path):
    """The shipped .nemo is verified at load; a damaged copy is refused with both digests named."""
    import shutil
    from dataclasses import replace

    from workers.engines.loader import verify_sha256

    assert CPU_MODEL.sha256 and len(CPU_MODEL.sha256) == 64
    verify_sha256(CPU_MODEL)
    damaged = tmp_path / "damaged.nemo"
    shutil.copy(CPU_MODEL.path, damaged)
    with open(damaged, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"budgie" * 3)
    with pytest.raises(ModelLoadError, match=r"sha256.*registry expects"):
        load_nemo_model(replace(CPU_MODEL, path=str(damaged)), "cpu")


def test_local_nemo_restores_through_the_production_loader(test_model_paths):
    from workers.engines.loader import get_model

    entry = registry().resolve("parakeet-test")
    model = get_model(entry, "cpu")
    assert model is get_model(entry, "cpu"), "a model is loaded once per process"
    assert model.cfg.decoding.compute_timestamps is True
    assert model.encoder.streaming_cfg is not None
