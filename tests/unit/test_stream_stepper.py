"""Batched cache-aware stepping gives exactly the offline greedy tokens, for every batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TEST_MODEL, TEST_MODEL_FULL


@pytest.fixture(scope="module")
def audio(speech_dir):
    import soundfile as sf

    from tests.speech import synthesize

    data, _ = sf.read(synthesize("a journey of a thousand miles", speech_dir / "step.wav"), dtype="float32")
    return data


def load(path):
    from nemo.collections.asr.models import ASRModel

    from workers.streaming.engine import streaming_decoding

    model = ASRModel.restore_from(str(path), map_location="cpu").eval()
    streaming_decoding(model)
    return model


def run_streams(stepper, audios: list[np.ndarray], piece: int = 1000):
    """Feed several streams piece by piece, stepping all ready ones together like the scheduler."""
    states = [stepper.new_state() for _ in audios]
    tokens = [[] for _ in audios]
    frames = [[] for _ in audios]
    batch_sizes = []
    for i in range(0, max(map(len, audios)), piece):
        for s, a in zip(states, audios, strict=False):
            if i < len(a):
                stepper.add_audio(s, a[i : i + piece])
        for first in (True, False):
            group = [k for k, s in enumerate(states) if stepper.ready(s) and (s.step == 0) == first]
            if group:
                batch_sizes.append(len(group))
                for k, out in zip(group, stepper.step([states[k] for k in group]), strict=False):
                    tokens[k] += out.token_ids
                    frames[k] += out.frames
    for k, s in enumerate(states):
        stepper.finish_audio(s)
        while stepper.ready(s):
            out = stepper.step([s])[0]
            tokens[k] += out.token_ids
            frames[k] += out.frames
        out = stepper.step([s], last=True)[0]
        tokens[k] += out.token_ids
        frames[k] += out.frames
    return tokens, frames, batch_sizes


@pytest.mark.parametrize("ctx", [[70, 1], [70, 13]])
def test_cache_aware_stream_equals_offline_in_a_batch(test_model_paths, audio, ctx):
    from workers.streaming.stepper import CacheAwareStepper

    model = load(test_model_paths[TEST_MODEL])
    stepper = CacheAwareStepper(model, ctx)
    assert stepper.chunk_ms == 80 * (ctx[1] + 1)  # chunked_limited: chunk = lookahead + 1 frames
    audios = [audio, audio[: len(audio) * 2 // 3], audio]
    tokens, frames, batch_sizes = run_streams(stepper, audios)
    assert max(batch_sizes) >= 2  # sessions really were stepped together
    with torch.inference_mode():
        for a, toks, frs in zip(audios, tokens, frames, strict=False):
            feats, flen = model.preprocessor(input_signal=torch.from_numpy(a)[None], length=torch.tensor([len(a)]))
            enc, elen = model.encoder(audio_signal=feats, length=flen)
            hyp = model.decoding.rnnt_decoder_predictions_tensor(
                encoder_output=enc, encoded_lengths=elen, return_hypotheses=True
            )[0]
            assert toks == hyp.y_sequence.tolist()
            assert frs == hyp.timestamp.tolist()  # absolute encoder frames, not per-chunk
    assert frames[0] == sorted(frames[0])


def test_full_context_model_refuses_cache_aware_and_streams_buffered(test_model_paths, audio):
    from workers.streaming.buffered import BufferedStepper
    from workers.streaming.stepper import CacheAwareStepper

    model = load(test_model_paths[TEST_MODEL_FULL])
    with pytest.raises(ValueError, match="full context"):
        CacheAwareStepper(model)
    stepper = BufferedStepper(model, left_s=1.6, chunk_s=0.48, right_s=0.32)
    tokens, frames, _ = run_streams(stepper, [audio, audio], piece=2000)
    assert tokens[0] == tokens[1] and tokens[0]
    assert frames[0] == sorted(frames[0]) and frames[0][-1] <= len(audio) / 1280 + 1
    state = stepper.new_state()
    stepper.add_audio(state, np.zeros(16000 * 10, dtype=np.float32))
    while stepper.ready(state):
        stepper.step([state])
    assert state.extras["audio"].size <= stepper.left + stepper.chunk + stepper.right  # memory stays bounded
