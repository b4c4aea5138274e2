"""Synthesise English speech for tests and benchmarks with espeak-ng (Debian) and sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def have_espeak() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def synthesize(
    text: str,
    out: str | Path,
    voice: str = "en-us",
    rate: int = 150,
    pitch: int = 50,
    sample_rate: int = 16000,
    fmt: str | None = None,
) -> Path:
    """Speak ``text`` into ``out`` (format from its extension: wav, flac, mp3 ...) at ``sample_rate``."""
    out = Path(out)
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text], check=True, capture_output=True
    ).stdout
    cmd = ["sox", "-q", "-t", "wav", "-", "-r", str(sample_rate), "-c", "1"]
    if fmt:
        cmd += ["-t", fmt]
    subprocess.run([*cmd, str(out)], input=wav, check=True, capture_output=True)
    return out


def silence(out: str | Path, seconds: float, sample_rate: int = 16000) -> Path:
    subprocess.run(
        ["sox", "-q", "-n", "-r", str(sample_rate), "-c", "1", "-b", "16", str(out), "trim", "0", str(seconds)],
        check=True,
    )
    return Path(out)


def concatenate(parts: list[Path], out: str | Path) -> Path:
    subprocess.run(["sox", "-q", *map(str, parts), str(out)], check=True)
    return Path(out)
