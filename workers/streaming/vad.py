"""Silero-VAD endpointing: turns a 16 kHz stream into speech_start / speech_end events.

Each session owns one Silero model instance (its recurrent state is per stream; loading the
bundled TorchScript file takes ~70 ms). Inference runs under ``torch.inference_mode`` so no
autograd graph accumulates over a long session.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

logger = logging.getLogger(__name__)

WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)
SAMPLE_RATE = 16000


@dataclass
class VadEvent:
    kind: str  # "speech_start" | "speech_end"
    time: float  # stream seconds: speech onset, or the start of the silence that ended it
    detected_at: float  # stream seconds at which the event became certain


def load_model():
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=False)


class Endpointer:
    """Hysteresis VAD: speech above ``threshold``; ``silence_ms`` below ``threshold - 0.15`` ends it."""

    def __init__(self, model, threshold: float = 0.5, silence_ms: int = 500, min_speech_ms: int = 96):
        self.model = model
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.min_speech_windows = max(1, min_speech_ms * SAMPLE_RATE // 1000 // WINDOW)
        self._rest = np.zeros(0, dtype=np.float32)
        self._pos = 0  # samples consumed
        self.in_speech = False
        self._speech_run = 0
        self._speech_start = 0
        self._silence_start: int | None = None
        model.reset_states()

    def configure(self, threshold: float | None = None, silence_ms: int | None = None) -> None:
        if threshold is not None:
            self.threshold = threshold
        if silence_ms is not None:
            self.silence_ms = silence_ms

    @torch.inference_mode()
    def push(self, audio: np.ndarray) -> list[VadEvent]:
        """Feed samples; return the events that became certain."""
        events: list[VadEvent] = []
        buf = np.concatenate([self._rest, audio]) if self._rest.size else audio
        n = buf.size // WINDOW
        for i in range(n):
            window = torch.from_numpy(np.ascontiguousarray(buf[i * WINDOW:(i + 1) * WINDOW]))
            prob = float(self.model(window, SAMPLE_RATE))
            start = self._pos
            self._pos += WINDOW
            if prob >= self.threshold:
                self._silence_start = None
                if not self.in_speech:
                    if self._speech_run == 0:
                        self._speech_start = start
                    self._speech_run += 1
                    if self._speech_run >= self.min_speech_windows:
                        self.in_speech = True
                        events.append(VadEvent("speech_start", self._speech_start / SAMPLE_RATE,
                                               self._pos / SAMPLE_RATE))
            elif not self.in_speech:
                self._speech_run = 0
            elif prob < self.threshold - 0.15:
                if self._silence_start is None:
                    self._silence_start = start
                if (self._pos - self._silence_start) * 1000 >= self.silence_ms * SAMPLE_RATE:
                    events.append(VadEvent("speech_end", self._silence_start / SAMPLE_RATE, self._pos / SAMPLE_RATE))
                    self.in_speech = False
                    self._speech_run = 0
                    self._silence_start = None
        self._rest = buf[n * WINDOW:].copy()
        return events
