"""Bounded-window streaming for full-context models (e.g. nvidia/parakeet-rnnt-0.6b).

A model trained with full attention cannot use cache-aware attention as trained, so each step
re-encodes a fixed window: ``left`` seconds of context + ``chunk`` seconds of new audio +
``right`` seconds of lookahead. Only the encoder frames of the new chunk are decoded, with the RNNT
decoder state carried from the previous chunk, so words are neither repeated nor dropped and the
cost per step is bounded (it never grows with the utterance). Windows of all ready sessions are
padded to one length and encoded in one batched pass.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from core.audio import SAMPLE_RATE
from workers.streaming.stepper import StepOutput, StreamState, _as_list, _ensure_eval

logger = logging.getLogger(__name__)


class BufferedStepper:
    """Left-context + chunk + lookahead windows over raw audio; decoder state carried."""

    mode = "buffered"

    def __init__(self, model, left_s: float = 4.0, chunk_s: float = 0.8, right_s: float = 0.8):
        self.model = model
        model.eval()
        hop = float(model.cfg.preprocessor.window_stride)
        self.subsampling = int(model.cfg.encoder.get("subsampling_factor", 8))
        self.frame_s = hop * self.subsampling
        self.frame_samples = round(self.frame_s * SAMPLE_RATE)
        snap = lambda s: max(1, round(s / self.frame_s)) * self.frame_samples  # noqa: E731
        self.left, self.chunk, self.right = snap(left_s), snap(chunk_s), snap(right_s)
        self.chunk_ms = round(1000 * self.chunk / SAMPLE_RATE)
        self.att_context_size = None
        self._device = next(model.parameters()).device

    def new_state(self) -> StreamState:
        state = StreamState(feats=torch.zeros(0))
        state.extras.update(audio=np.zeros(0, dtype=np.float32), base=0, finished=False)
        return state

    def add_audio(self, state: StreamState, audio: np.ndarray) -> None:
        state.extras["audio"] = np.concatenate([state.extras["audio"], np.asarray(audio, dtype=np.float32)])

    def finish_audio(self, state: StreamState) -> None:
        state.extras["finished"] = True

    def ready(self, state: StreamState) -> bool:
        x = state.extras
        return x["audio"].size - (state.consumed - x["base"]) >= self.chunk + self.right

    def pending_steps(self, state: StreamState) -> int:
        x = state.extras
        avail = x["audio"].size - (state.consumed - x["base"]) - self.right
        return max(0, avail // self.chunk)

    @torch.inference_mode()
    def step(self, states: list[StreamState], last: bool = False) -> list[StepOutput]:
        """Decode the next chunk of every state (``last``: everything that is left)."""
        from nemo.collections.asr.parts.utils.rnnt_utils import Hypothesis

        _ensure_eval(self.model)
        windows, spans = [], []
        for s in states:
            x = s.extras
            start = max(0, s.consumed - self.left)
            end = x["base"] + x["audio"].size if last else s.consumed + self.chunk + self.right
            windows.append(x["audio"][start - x["base"] : end - x["base"]])
            new = (x["base"] + x["audio"].size - s.consumed) if last else self.chunk
            spans.append((start, new))
        lengths = torch.tensor([w.size for w in windows], dtype=torch.int64)
        outputs = [StepOutput([], [], s.frames_out) for s in states]
        live = [i for i, w in enumerate(windows) if w.size >= self.frame_samples and spans[i][1] > 0]
        for i, s in enumerate(states):
            if i not in live and last:
                s.done = True
        if not live:
            return outputs
        batch = torch.zeros(len(live), int(lengths[live].max()))
        for row, i in enumerate(live):
            batch[row, : windows[i].size] = torch.from_numpy(windows[i])
        feats, feat_len = self.model.preprocessor(
            input_signal=batch.to(self._device), length=lengths[live].to(self._device)
        )
        encoded, enc_len = self.model.encoder(audio_signal=feats, length=feat_len)
        sel, sel_len = [], []
        for row, i in enumerate(live):
            s, (start, new) = states[i], spans[i]
            first = (s.consumed - start) // self.frame_samples
            n = -(-new // self.frame_samples) if last else new // self.frame_samples
            n = max(0, min(n, int(enc_len[row]) - first))
            sel.append(encoded[row, :, first : first + n])
            sel_len.append(n)
        width = max(1, max(sel_len))
        enc = torch.zeros(len(live), encoded.shape[1], width, device=encoded.device)
        for row, piece in enumerate(sel):
            enc[row, :, : piece.shape[1]] = piece
        group = [states[i] for i in live]
        prev = [
            Hypothesis(score=0.0, y_sequence=None, dec_state=s.dec_state, timestamp=None, length=0)
            if s.dec_state is not None
            else None
            for s in group
        ]
        hyps = self.model.decoding.rnnt_decoder_predictions_tensor(
            encoder_output=enc,
            encoded_lengths=torch.tensor(sel_len, device=enc.device),
            return_hypotheses=True,
            partial_hypotheses=None if all(p is None for p in prev) else prev,
        )
        for row, (i, s) in enumerate(zip(live, group, strict=False)):
            hyp = hyps[row]
            s.dec_state = hyp.dec_state
            ids = _as_list(hyp.y_sequence)
            stamps = _as_list(hyp.timestamp)
            base = s.frames_out
            s.frames_out = base + sel_len[row]
            advance = spans[i][1]
            s.consumed += advance
            # forget audio the next window's left context no longer needs
            x = s.extras
            drop = max(0, s.consumed - self.left - x["base"])
            if drop:
                x["audio"] = x["audio"][drop:]
                x["base"] += drop
            s.step += 1
            s.done = last
            outputs[i] = StepOutput(ids, [int(t) for t in stamps[: len(ids)]], s.frames_out)
        return outputs
