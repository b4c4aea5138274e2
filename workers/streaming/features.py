"""Incremental log-mel features that match NeMo's offline preprocessor frame for frame.

A cache-aware encoder only reproduces the offline transcript if it sees the same features. NeMo's
``FilterbankFeatures`` pre-emphasises, zero-pads ``n_fft // 2`` samples at each edge (``center=True``)
and takes a 512-point STFT every 160 samples. Frame ``i`` therefore depends on samples
``[i*hop - n_fft/2, i*hop + n_fft/2)`` only, so it can be computed as soon as those samples exist:
we keep the pre-emphasised tail and emit every frame whose window is complete, and at the end of a
stream pad with the same zeros the offline path uses. Nothing already featurised is recomputed.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)


class StreamingFeaturizer:
    """Turn a stream of 16 kHz float32 samples into NeMo-identical log-mel frames (no normalisation)."""

    def __init__(self, preprocessor):
        feat = preprocessor.featurizer
        if feat.normalize and str(feat.normalize).lower() not in ("na", "none"):
            raise ValueError(f"per-utterance feature normalisation ({feat.normalize}) cannot be streamed exactly")
        if feat.frame_splicing > 1:
            raise ValueError("frame splicing is not supported for streaming")
        self.n_fft = int(feat.n_fft)
        self.hop = int(feat.hop_length)
        self.win_length = int(feat.win_length)
        self.pad = int(feat.stft_pad_amount) if feat.stft_pad_amount is not None else self.n_fft // 2
        self.preemph = feat.preemph
        self.window = feat.window.to(torch.float32).cpu()
        self.fb = feat.fb.to(torch.float32).cpu()
        self.mag_power = feat.mag_power
        self.log = feat.log
        self.guard_type = feat.log_zero_guard_type
        self.guard = feat.log_zero_guard_value_fn(torch.zeros(1))
        self.reset()

    def reset(self) -> None:
        """Start a new stream: the next sample is sample 0."""
        self._buf = np.zeros(self.pad, dtype=np.float32)  # pre-emphasised samples from the left pad on
        self._buf_start = -self.pad  # stream index of _buf[0]
        self._last: float | None = None  # last raw sample, for pre-emphasis across pushes
        self.samples = 0  # raw samples received
        self.frames = 0  # frames emitted

    def push(self, audio: np.ndarray) -> torch.Tensor:
        """Add samples; return the newly complete frames as ``[n_mels, T]`` (T may be 0)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size:
            emph = audio.copy()
            if self.preemph is not None:
                prev = np.empty_like(audio)
                prev[0] = 0.0 if self._last is None else self._last
                prev[1:] = audio[:-1]
                emph = audio - self.preemph * prev
                if self._last is None:
                    emph[0] = audio[0]  # NeMo keeps the first sample as is
            self._last = float(audio[-1])
            self._buf = np.concatenate([self._buf, emph])
            self.samples += audio.size
        end = self._buf_start + self._buf.size  # stream index one past the last buffered sample
        # frame i needs stream samples up to i*hop - pad + n_fft
        available = (end + self.pad - self.n_fft) // self.hop + 1 if end + self.pad >= self.n_fft else 0
        return self._emit(available)

    def finish(self) -> torch.Tensor:
        """End the stream: pad like the offline preprocessor and return the remaining frames."""
        total = self.samples // self.hop  # NeMo's seq_len for center=True
        self._buf = np.concatenate([self._buf, np.zeros(self.pad + self.n_fft, dtype=np.float32)])
        return self._emit(total)

    def _emit(self, upto: int) -> torch.Tensor:
        n = upto - self.frames
        if n <= 0:
            return torch.zeros(self.fb.shape[1], 0)
        first = self.frames * self.hop - self.pad - self._buf_start
        span = self._buf[first : first + (n - 1) * self.hop + self.n_fft]
        x = torch.from_numpy(np.ascontiguousarray(span))
        spec = torch.stft(
            x,
            n_fft=self.n_fft,
            hop_length=self.hop,
            win_length=self.win_length,
            center=False,
            window=self.window,
            return_complex=True,
        )
        x = torch.view_as_real(spec)
        x = torch.sqrt(x.pow(2).sum(-1))
        if self.mag_power != 1.0:
            x = x.pow(self.mag_power)
        x = torch.matmul(self.fb[0], x)
        if self.log:
            x = torch.log(x + self.guard) if self.guard_type == "add" else torch.log(torch.clamp(x, min=self.guard))
        self.frames = upto
        # drop samples no future frame needs
        keep_from = self.frames * self.hop - self.pad - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return x
