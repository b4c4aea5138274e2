"""Decode any common audio format to 16 kHz mono float32 with PyAV (FFmpeg), and probe uploads."""

from __future__ import annotations

from collections.abc import Iterator
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


# Full scale of each sample format, to bring integer samples to [-1, 1] before a manual downmix.
_FULL_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2.0**31, "s64": 2.0**63, "flt": 1.0, "dbl": 1.0}


def _mono_frames(container: Any, stream: Any, sample_rate: int) -> Iterator[Any]:
    """The stream as mono float frames at ``sample_rate``: the one path probe, decode and prepare share.

    FFmpeg's resampler only downmixes channel layouts it knows; a WAV with 9, 17 or 32 channels has
    none, so such frames are averaged to mono here first (any channel count works). Float input is
    averaged here too, so NaN/Inf samples (which would poison every feature after them) become silence.
    """
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    unknown_layout = stream.layout is None or stream.layout.name.endswith("channels")
    for frame in container.decode(stream):
        if unknown_layout or frame.format.name.startswith(("flt", "dbl")):
            frame = _downmix(frame)  # also where float NaN/Inf samples are made silent and clipped
        yield from resampler.resample(frame)
    yield from resampler.resample(None)


def _downmix(frame: Any) -> Any:
    import av

    name = frame.format.name.rstrip("p")
    data = frame.to_ndarray()
    if not frame.format.is_planar:
        data = data.reshape(-1, len(frame.layout.channels)).T
    mono = data.astype(np.float32).mean(axis=0)
    if name == "u8":
        mono -= 128.0
    mono /= _FULL_SCALE.get(name, 1.0)
    np.clip(np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0, out=mono)
    out = av.AudioFrame.from_ndarray(mono.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    out.sample_rate = frame.sample_rate
    return out


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe(path: str | Path, max_decode_s: float = 2.0, max_duration_s: float | None = None) -> Probe:
    """Check that ``path`` holds audio of at least 0.1 s that prepare will be able to convert.

    The first seconds go through the same conversion prepare uses (so a layout or codec it cannot
    handle fails here, at submit). Only a file that states no duration is decoded further, and then
    at most to ``max_duration_s`` (just past it is enough to refuse it as too long).
    """
    import av

    container, stream = _open(path)
    try:
        stated = None
        if stream.duration is not None and stream.time_base is not None:
            stated = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            stated = container.duration / 1_000_000
        enough = min(max_decode_s, stated) if stated is not None else max_duration_s
        decoded = 0.0
        try:
            for frame in _mono_frames(container, stream, SAMPLE_RATE):
                decoded += frame.samples / SAMPLE_RATE
                if enough is not None and decoded > enough:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
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
    pieces: list[np.ndarray] = []
    try:
        try:
            pieces.extend(f.to_ndarray().reshape(-1) for f in _mono_frames(container, stream, sample_rate))
        except (av.error.FFmpegError, ValueError) as exc:
            if not pieces:
                raise AudioError(f"Unable to decode audio: {_reason(exc)}") from exc
            # a damaged tail: keep what decoded cleanly
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
                for frame in _mono_frames(container, stream, sample_rate):
                    put([frame])
            except (av.error.FFmpegError, ValueError) as exc:
                if not written:
                    raise AudioError(f"Unable to decode audio: {_reason(exc)}") from exc
                # a damaged tail: keep what decoded cleanly
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
