"""True cache-aware streaming: step many sessions' encoders and RNNT decoders together.

Each session carries the encoder's attention/convolution caches and the RNNT decoder's
label-looping state from chunk to chunk, so every step encodes only the new chunk and decodes
only its new frames. Sessions in the same phase (first chunk, steady chunk, last chunk) are
stacked along the batch axis and go through one ``conformer_stream_step`` call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from workers.streaming.features import StreamingFeaturizer

logger = logging.getLogger(__name__)


@dataclass
class StreamState:
    """Everything one stream needs between steps; small and bounded (features + caches)."""

    feats: torch.Tensor  # [n_mels, T] frames not yet consumed, preceded by the pre-encode cache
    consumed: int = 0  # frames of ``feats`` already stepped (the tail of those is the pre-encode cache)
    step: int = 0
    frames_out: int = 0  # encoder frames decoded so far = the stream time of the next frame
    cache_channel: torch.Tensor | None = None
    cache_time: torch.Tensor | None = None
    cache_len: torch.Tensor | None = None
    dec_state: Any = None  # NeMo label-looping state item, or None before the first token
    done: bool = False
    featurizer: StreamingFeaturizer | None = (
        None  # StreamingFeaturizer (cache-aware) ; buffered mode keeps raw audio instead
    )
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepOutput:
    """New tokens of one step: ids and their absolute encoder frame indices."""

    token_ids: list[int]
    frames: list[int]  # NeMo's label-looping state carries decoded_lengths, so these are already absolute
    frames_out: int  # total frames decoded after this step


class CacheAwareStepper:
    """Chunked cache-aware inference for a FastConformer-RNNT trained with limited context."""

    mode = "cache_aware"

    def __init__(self, model, att_context_size: list[int] | None = None):
        self.model = model
        model.eval()
        enc = model.encoder
        if getattr(enc, "att_context_style", "regular") == "regular" and list(enc.att_context_size) == [-1, -1]:
            raise ValueError("this model was trained with full context; stream it in buffered mode")
        if att_context_size:
            enc.set_default_att_context_size(list(att_context_size))
        else:
            enc.setup_streaming_params()
        cfg = enc.streaming_cfg
        self.cfg = cfg
        self.att_context_size = list(enc.att_context_size)
        pair = lambda v: (v[0], v[1]) if isinstance(v, (list, tuple)) else (v, v)  # noqa: E731
        self.chunk_first, self.chunk = pair(cfg.chunk_size)
        self.shift_first, self.shift = pair(cfg.shift_size)
        self.pre_cache_first, self.pre_cache = pair(cfg.pre_encode_cache_size)
        self.drop = cfg.drop_extra_pre_encoded
        self.n_mels = enc._feat_in
        self.subsampling = int(enc.subsampling_factor)
        hop = float(model.cfg.preprocessor.window_stride)
        self.frame_s = hop * self.subsampling
        self.chunk_ms = round(1000 * hop * self.shift)
        self._dtype = next(model.parameters()).dtype
        self._device = next(model.parameters()).device

    def activate(self) -> None:
        """Put this stepper's attention context on the shared encoder. Several steppers (one per
        trained context a session may pick) share one model; only the scheduler thread calls this,
        right before it steps, so a batch always runs with the context its sessions chose."""
        enc = self.model.encoder
        if list(enc.att_context_size) != self.att_context_size or enc.streaming_cfg is not self.cfg:
            enc.att_context_size = list(self.att_context_size)
            enc.streaming_cfg = self.cfg

    def new_state(self) -> StreamState:
        ch, tm, ln = self.model.encoder.get_initial_cache_state(batch_size=1, dtype=self._dtype, device=self._device)
        return StreamState(
            feats=torch.zeros(self.n_mels, 0),
            cache_channel=ch,
            cache_time=tm,
            cache_len=ln,
            featurizer=StreamingFeaturizer(self.model.preprocessor),
        )

    def add_audio(self, state: StreamState, audio) -> None:
        """Featurise new 16 kHz samples (only the new frames are computed)."""
        assert state.featurizer is not None
        self.add_features(state, state.featurizer.push(audio))

    def finish_audio(self, state: StreamState) -> None:
        """No more audio: emit the trailing frames exactly as the offline preprocessor would."""
        assert state.featurizer is not None
        self.add_features(state, state.featurizer.finish())

    def add_features(self, state: StreamState, frames: torch.Tensor) -> None:
        if frames.shape[1]:
            state.feats = torch.cat([state.feats, frames], dim=1)

    def ready(self, state: StreamState) -> bool:
        """True when a full chunk of features is waiting."""
        need = self.chunk_first if state.step == 0 else self.chunk
        return state.feats.shape[1] - state.consumed >= need

    def pending_steps(self, state: StreamState) -> int:
        """How many full chunks are waiting (for latency bookkeeping)."""
        avail = state.feats.shape[1] - state.consumed
        if state.step == 0:
            if avail < self.chunk_first:
                return 0
            rest = avail - self.shift_first
            return 1 + (0 if rest < self.chunk else (rest - self.chunk) // self.shift + 1)
        return 0 if avail < self.chunk else (avail - self.chunk) // self.shift + 1

    def _take(self, state: StreamState, last: bool) -> torch.Tensor | None:
        first = state.step == 0
        size = self.chunk_first if first else self.chunk
        shift = self.shift_first if first else self.shift
        pre = self.pre_cache_first if first else self.pre_cache
        start = state.consumed
        chunk = state.feats[:, start : start + size]
        if last:
            chunk = state.feats[:, start:]
        if chunk.shape[1] == 0:
            return None
        lo = max(0, start - pre)
        cached = state.feats[:, lo:start]
        if cached.shape[1] < pre:
            cached = torch.cat([torch.zeros(self.n_mels, pre - cached.shape[1]), cached], dim=1)
        state.consumed = start + (chunk.shape[1] if last else shift)
        # keep only what the next step's pre-encode cache needs
        trim = max(0, state.consumed - self.pre_cache)
        if trim:
            state.feats = state.feats[:, trim:]
            state.consumed -= trim
        return torch.cat([cached, chunk], dim=1)

    @torch.inference_mode()
    def step(self, states: list[StreamState], last: bool = False) -> list[StepOutput]:
        """Advance every state by one chunk in one batched forward pass.

        All states must be in the same phase: either all on their first chunk or all past it.
        ``last`` consumes whatever features remain (end of stream) and keeps every output frame.
        """
        _ensure_eval(self.model)
        self.activate()
        first = states[0].step == 0
        assert all((s.step == 0) == first for s in states), "mixed phases in one batch"
        saved = [(s.feats, s.consumed) for s in states]
        try:
            return self._step(states, first, last)
        except Exception:
            for s, (feats, consumed) in zip(
                states, saved, strict=False
            ):  # leave every state as it was, so a retry is exact
                s.feats, s.consumed = feats, consumed
            raise

    def _step(self, states: list[StreamState], first: bool, last: bool) -> list[StepOutput]:
        from nemo.collections.asr.parts.utils.rnnt_utils import Hypothesis

        taken = [(i, chunk) for i, s in enumerate(states) if (chunk := self._take(s, last)) is not None]
        outputs = [StepOutput([], [], s.frames_out) for s in states]
        if not taken:
            return outputs
        live = [i for i, _ in taken]
        lengths = torch.tensor([chunk.shape[1] for _, chunk in taken], dtype=torch.int64)
        signal = torch.zeros(len(taken), self.n_mels, int(lengths.max()))
        for row, (_, chunk) in enumerate(taken):
            signal[row, :, : chunk.shape[1]] = chunk
        group = [states[i] for i in live]
        prev: list[Any] | None = [
            Hypothesis(score=0.0, y_sequence=None, dec_state=s.dec_state, timestamp=None, length=0)
            if s.dec_state is not None
            else None
            for s in group
        ]
        if prev is not None and all(p is None for p in prev):
            prev = None
        caches = [_caches(s) for s in group]
        (_, _, ch, tm, ln, hyps) = self.model.conformer_stream_step(
            processed_signal=signal.to(self._device, self._dtype),
            processed_signal_length=lengths.to(self._device),
            cache_last_channel=torch.cat([c[0] for c in caches], dim=1),
            cache_last_time=torch.cat([c[1] for c in caches], dim=1),
            cache_last_channel_len=torch.cat([c[2] for c in caches], dim=0),
            keep_all_outputs=last,
            previous_hypotheses=prev,
            drop_extra_pre_encoded=0 if first else self.drop,
            return_transcription=True,
        )
        for row, (i, state) in enumerate(zip(live, group, strict=False)):
            hyp = hyps[row]
            state.cache_channel = ch[:, row : row + 1].clone()
            state.cache_time = tm[:, row : row + 1].clone()
            state.cache_len = ln[row : row + 1].clone()
            state.dec_state = hyp.dec_state
            ids = _as_list(hyp.y_sequence)
            stamps = _as_list(hyp.timestamp)
            n_frames = int(hyp.length) if hyp.length is not None else 0
            base = state.frames_out
            state.frames_out = base + n_frames
            state.step += 1
            state.done = last
            outputs[i] = StepOutput(ids, [int(t) for t in stamps[: len(ids)]], state.frames_out)
        return outputs


def _caches(state: StreamState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A cache-aware state's encoder caches (set by new_state)."""
    assert state.cache_channel is not None and state.cache_time is not None and state.cache_len is not None
    return state.cache_channel, state.cache_time, state.cache_len


def _ensure_eval(model) -> None:
    """Force eval mode: NeMo's ``transcribe()`` leaves encoder/decoder/joint in train mode (dropout on)."""
    if any(getattr(model, name).training for name in ("encoder", "decoder", "joint") if hasattr(model, name)):
        model.eval()


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return [int(v) for v in value]
