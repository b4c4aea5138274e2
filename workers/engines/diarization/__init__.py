"""Speaker diarization engines: who spoke when, as turns ``[{speaker, start, end}]`` in seconds.

Two engines share one interface (``diarize(wav_path, bounds) -> turns``):

- ``embedded`` (default): Silero VAD + Resemblyzer d-vectors + agglomerative clustering. Every
  weight ships inside a PyPI wheel, so it runs offline on a CPU.
- ``pyannote``: a pyannote.audio pipeline from the hub (token) or a local directory.

:func:`get_diarizer` picks one from the worker settings; see ``docs/diarization.md``.
"""

from workers.engines.diarization.base import DiarizerUnavailable, SpeakerBounds
from workers.engines.diarization.embedded import EmbeddedDiarizer
from workers.engines.diarization.select import get_diarizer

__all__ = ["DiarizerUnavailable", "EmbeddedDiarizer", "SpeakerBounds", "get_diarizer"]
