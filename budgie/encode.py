"""Encode audio for the streaming protocol's wire encodings, frame by frame, as a live client would.

``frames(samples, encoding)`` turns 16 kHz mono float32 samples into the binary frames a client
sends: raw PCM, G.711 μ-law/A-law at 8 kHz, or Opus in WebM/Ogg muxed as it is encoded (like a
browser's MediaRecorder with a timeslice), so the server sees a container growing frame by frame.
Used by ``budgie stream``, the tests and the benchmark; encoding is FFmpeg's, through PyAV.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import cast

import numpy as np

RAW = ("pcm_s16le", "linear16", "pcm_f32le")
G711 = {"mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}
CONTAINERS = {"webm": "webm", "ogg": "ogg"}
ENCODINGS = (*RAW, *G711, *CONTAINERS)
RATE = 16000


class _Sink:
    """A write-only file for PyAV's muxer; ``take()`` returns what was written since the last call."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b) -> int:
        self.data += b
        return len(b)

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


def wire_rate(encoding: str) -> int:
    """The ``sample_rate`` a client declares for ``encoding`` (containers carry their own)."""
    return 8000 if encoding in G711 else RATE


def frames(samples: np.ndarray, encoding: str, frame_ms: int = 100) -> Iterator[bytes]:
    """Yield the binary frames of ``samples`` (16 kHz mono float32 in [-1, 1]) in ``encoding``."""
    samples = np.asarray(samples, dtype=np.float32)
    step = RATE * frame_ms // 1000
    if encoding in ("pcm_s16le", "linear16"):
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        for i in range(0, pcm.size, step):
            yield pcm[i : i + step].tobytes()
    elif encoding == "pcm_f32le":
        for i in range(0, samples.size, step):
            yield samples[i : i + step].astype("<f4").tobytes()
    elif encoding in G711:
        yield from _g711(samples, G711[encoding], step)
    elif encoding in CONTAINERS:
        yield from _opus(samples, CONTAINERS[encoding], step)
    else:
        raise ValueError(f"unknown encoding {encoding!r}; one of {', '.join(ENCODINGS)}")


def _frame(av, samples: np.ndarray, rate: int, fmt: str = "flt"):
    frame = av.AudioFrame.from_ndarray(samples[None, :], format=fmt, layout="mono")
    frame.sample_rate = rate
    return frame


def _g711(samples: np.ndarray, codec_name: str, step: int) -> Iterator[bytes]:
    import av
    from av.audio.codeccontext import AudioCodecContext

    codec = cast(AudioCodecContext, av.CodecContext.create(codec_name, "w"))
    codec.sample_rate, codec.layout, codec.format = 8000, "mono", "s16"
    resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
    for i in range(0, samples.size + step, step):
        last = i >= samples.size
        chunk = None if last else _frame(av, samples[i : i + step], RATE)
        data = b"".join(bytes(p) for f in resampler.resample(chunk) for p in codec.encode(f))
        if data:
            yield data


def _opus(samples: np.ndarray, fmt: str, step: int) -> Iterator[bytes]:
    import av

    sink = _Sink()
    options = {"page_duration": "20000"} if fmt == "ogg" else {"live": "1", "cluster_time_limit": "100"}
    out = av.open(sink, "w", format=fmt, container_options=options)
    stream = out.add_stream("libopus", rate=48000)
    stream.layout = "mono"
    for i in range(0, samples.size, step):
        frame = _frame(av, samples[i : i + step], RATE)
        frame.pts = i
        frame.time_base = Fraction(1, RATE)
        for packet in stream.encode(frame):
            out.mux(packet)
        data = sink.take()
        if data:
            yield data
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    tail = sink.take()
    if tail:
        yield tail
