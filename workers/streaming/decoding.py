"""Client audio frames -> float32 samples in [-1, 1], for each wire encoding a session may negotiate."""

from __future__ import annotations

import numpy as np

from core.protocol import CLOSE_TOO_LARGE, ProtocolError

DTYPES: dict[str, np.dtype] = {"pcm_s16le": np.dtype("<i2"), "pcm_f32le": np.dtype("<f4")}


def decode_audio(data: bytes, encoding: str, max_bytes: int) -> np.ndarray:
    """Decode one binary frame into float32 samples in [-1, 1]; reject what cannot be audio."""
    if len(data) > max_bytes:
        raise ProtocolError(
            "frame_too_large", f"binary frame of {len(data)} bytes exceeds the {max_bytes}-byte limit", CLOSE_TOO_LARGE
        )
    dtype = DTYPES[encoding]
    if len(data) % dtype.itemsize:
        raise ProtocolError(
            "invalid_audio",
            f"{encoding} frames need a multiple of {dtype.itemsize} bytes, got {len(data)}; frame dropped",
        )
    samples = np.frombuffer(data, dtype=dtype)
    if dtype.kind == "i":
        return samples.astype(np.float32) / 32768.0
    samples = samples.astype(np.float32)
    if samples.size and not np.isfinite(samples).all():
        raise ProtocolError("invalid_audio", "pcm_f32le frame contains NaN or infinite samples; frame dropped")
    return np.clip(samples, -1.0, 1.0)
