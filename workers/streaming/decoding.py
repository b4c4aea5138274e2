"""Client audio frames -> float32 samples in [-1, 1], for each raw wire encoding a session may negotiate.

Containers (webm, ogg) are demuxed by ``workers.streaming.containers`` instead. G.711 (μ-law and
A-law) is decoded through a 256-entry table that FFmpeg's own ``pcm_mulaw``/``pcm_alaw`` decoders
(via PyAV) produce once per process, so the values are FFmpeg's and every frame costs one lookup.
"""

from __future__ import annotations

from functools import cache
from typing import cast

import numpy as np

from core.protocol import CLOSE_TOO_LARGE, ProtocolError

DTYPES: dict[str, np.dtype] = {"pcm_s16le": np.dtype("<i2"), "pcm_f32le": np.dtype("<f4")}
G711_CODECS = {"mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}


@cache
def g711_table(encoding: str) -> np.ndarray:
    """float32 value of each of the 256 codes, decoded by FFmpeg's G.711 decoder."""
    import av
    from av.audio.codeccontext import AudioCodecContext

    codec = cast(AudioCodecContext, av.CodecContext.create(G711_CODECS[encoding], "r"))
    codec.sample_rate = 8000
    codec.layout = "mono"
    frames = codec.decode(av.Packet(bytes(range(256))))
    table = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32) / 32768.0
    assert table.size == 256, f"{encoding}: FFmpeg decoded {table.size} samples from 256 codes"
    return table


def decode_audio(data: bytes, encoding: str, max_bytes: int) -> np.ndarray:
    """Decode one binary frame into float32 samples in [-1, 1]; reject what cannot be audio."""
    check_frame_size(data, max_bytes)
    if encoding in G711_CODECS:
        return g711_table(encoding)[np.frombuffer(data, dtype=np.uint8)]
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


def check_frame_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise ProtocolError(
            "frame_too_large", f"binary frame of {len(data)} bytes exceeds the {max_bytes}-byte limit", CLOSE_TOO_LARGE
        )
