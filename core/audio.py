"""Decode any common audio format to 16 kHz mono float32 with PyAV (FFmpeg), and probe uploads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
MIN_DURATION_S = 0.1


class AudioError(ValueError):
    """The file is not audio Budgie can decode; the message is meant for the user."""


@dataclass(frozen=True)
class Probe:
    duration: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def _open(path: str | Path) -> tuple[Any, Any]:
    import av

    if Path(path).stat().st_size == 0:
        raise AudioError("Unable to read audio file: the file is empty")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioError(f"Unable to read audio file: {_reason(exc)}") from exc
    streams = [s for s in container.streams if s.type == "audio"]
    if not streams:
        container.close()
        raise AudioError("Unable to read audio file: it contains no audio stream")
    return container, streams[0]


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe(path: str | Path, max_decode_s: float = 2.0) -> Probe:
    """Check that ``path`` holds decodable audio of at least 0.1 s, decoding only its first seconds
    unless the container does not state a duration."""
    import av

    container, stream = _open(path)
    try:
        stated = None
        if stream.duration is not None and stream.time_base is not None:
            stated = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            stated = container.duration / 1_000_000
        decoded = 0.0
        try:
            for frame in container.decode(stream):
                decoded += frame.samples / float(frame.sample_rate or stream.sample_rate or SAMPLE_RATE)
                if stated is not None and decoded >= min(max_decode_s, stated):
                    break
        except av.error.FFmpegError as exc:
            if decoded == 0.0:
                raise AudioError(f"Unable to read audio file: {_reason(exc)}") from exc
        if decoded == 0.0:
            raise AudioError("Unable to read audio file: no audio could be decoded (empty or truncated)")
        duration = decoded if stated is None or stated <= 0 else stated
        if duration < MIN_DURATION_S:
            raise AudioError(f"Audio too short: {duration:.3f}s (minimum {MIN_DURATION_S}s)")
        return Probe(
            duration=round(duration, 3),
            sample_rate=int(stream.sample_rate or 0),
            channels=int(stream.channels or 0),
            codec=stream.codec_context.name,
            container=container.format.name,
        )
    finally:
        container.close()


def decode(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode, downmix and resample the first audio stream to mono float32 at ``sample_rate``."""
    import av

    container, stream = _open(path)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pieces: list[np.ndarray] = []
    try:
        try:
            for frame in container.decode(stream):
                pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        except av.error.FFmpegError as exc:
            if not pieces:
                raise AudioError(f"Unable to decode audio: {_reason(exc)}") from exc
            # a damaged tail: keep what decoded cleanly
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    finally:
        container.close()
    if not pieces:
        raise AudioError("Unable to decode audio: no samples")
    return np.concatenate(pieces).astype(np.float32, copy=False)


def convert_to_wav(path: str | Path, out: str | Path, sample_rate: int = SAMPLE_RATE) -> float:
    """:func:`decode` written straight to a 16-bit mono WAV at ``out``, frame by frame, so memory stays
    flat whatever the length (a 1 GB upload); returns the duration in seconds."""
    import av
    import soundfile as sf

    container, stream = _open(path)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    written = 0
    try:
        with sf.SoundFile(str(out), "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV") as wav:

            def put(frames: list[Any]) -> None:
                nonlocal written
                for f in frames:
                    samples = f.to_ndarray().reshape(-1)
                    wav.write(samples)
                    written += len(samples)

            try:
                for frame in container.decode(stream):
                    put(resampler.resample(frame))
            except av.error.FFmpegError as exc:
                if not written:
                    raise AudioError(f"Unable to decode audio: {_reason(exc)}") from exc
                # a damaged tail: keep what decoded cleanly
            put(resampler.resample(None))
    finally:
        container.close()
    if not written:
        Path(out).unlink(missing_ok=True)
        raise AudioError("Unable to decode audio: no samples")
    return round(written / sample_rate, 3)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    sf.write(str(path), audio, sample_rate, subtype="PCM_16")


def read_wav(path: str | Path) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    if rate != SAMPLE_RATE:
        raise AudioError(f"{path}: expected {SAMPLE_RATE} Hz, found {rate} Hz")
    return np.asarray(audio, dtype=np.float32)


def is_prepared_wav(path: str | Path) -> bool:
    """True for a WAV that is already what the stages read: 16 kHz, mono, 16-bit PCM."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        return False
    return (info.format, info.subtype, info.samplerate, info.channels) == (
        "WAV",
        "PCM_16",
        SAMPLE_RATE,
        1,
    ) and info.frames > 0


def wav_duration(path: str | Path) -> float:
    import soundfile as sf

    return round(float(sf.info(str(path)).duration), 3)
