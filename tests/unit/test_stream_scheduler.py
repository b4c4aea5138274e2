"""The scheduler with real sessions, stepper and VAD: batching, isolation of a broken session, flush/end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import TEST_MODEL


@pytest.fixture(scope="module")
def parts(test_model_paths, speech_dir):
    from nemo.collections.asr.models import ASRModel

    from tests.speech import synthesize
    from workers.engines.wordtimes import Detokenizer
    from workers.streaming.engine import streaming_decoding
    from workers.streaming.stepper import CacheAwareStepper
    from workers.streaming.vad import load_model

    model = ASRModel.restore_from(str(test_model_paths[TEST_MODEL]), map_location="cpu").eval()
    streaming_decoding(model)
    audio, _ = sf.read(synthesize("all that glitters is not gold", speech_dir / "sched.wav"), dtype="int16")
    return CacheAwareStepper(model, [70, 1]), Detokenizer(model.tokenizer), load_model(), audio


def new_session(parts):
    from core.protocol import SessionParams
    from workers.streaming.session import Session
    from workers.streaming.vad import Endpointer

    stepper, detok, vad_model, _ = parts
    params = SessionParams(TEST_MODEL, "en", "pcm_s16le", 16000, True, True)
    return Session(params, stepper, Endpointer(vad_model), detok, 1 << 20)


def outbox(session) -> list:
    items = []
    while not session.outbox.empty():
        items.append(session.outbox.get_nowait()[0])
    return items


def run(scheduler, sessions, until, limit=400, timeout_s=60.0):
    """Tick until ``until()``; the VAD thread works asynchronously, so yield to it between ticks."""
    import time

    deadline = time.monotonic() + timeout_s
    for _ in range(limit):
        scheduler.tick(sessions)
        if until():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.002)
    raise AssertionError("scheduler did not get there")


def test_sessions_are_batched_and_a_broken_one_is_isolated(parts):
    from workers.streaming.scheduler import Scheduler
    from workers.streaming.session import CLOSE

    stepper, _, _, audio = parts
    scheduler = Scheduler(stepper, max_batch=8)
    scheduler.vad.start()
    good, other, broken = (new_session(parts) for _ in range(3))
    for s in (good, other, broken):
        s.on_binary(audio[:8000].tobytes())
    run(scheduler, [good, other, broken], lambda: good.state.step >= 1 and broken.state.step >= 1)
    assert scheduler.stats.batched_sessions / scheduler.stats.steps > 1  # stepped together
    broken.state.cache_channel = torch.zeros(1, 1, 1, 1)  # corrupt: torch.cat of the batch now fails
    consumed = good.state.frames_out
    for s in (good, other, broken):
        s.on_binary(audio[8000:16000].tobytes())
    run(scheduler, [good, other, broken], lambda: broken.failed and good.state.frames_out > consumed + 2)
    messages = outbox(broken)
    closing = messages.index(CLOSE)  # the VAD thread may still queue an event after it; the sender stops here
    assert messages[closing - 1]["type"] == "error" and messages[closing - 1]["code"] == "internal_error"
    assert not good.failed and not other.failed
    # the healthy sessions lost nothing: their tokens equal a clean run over the same audio
    good.on_text('{"type": "end"}')
    run(scheduler, [good], lambda: good.finished)
    clean = new_session(parts)
    clean.on_binary(audio[:16000].tobytes())
    clean.on_text('{"type": "end"}')
    run(scheduler, [clean], lambda: clean.finished)
    assert good.transcript() == clean.transcript() and good.transcript()
    scheduler.vad.stop()


def test_flush_then_end_gives_finals_on_one_clock(parts):
    from workers.streaming.scheduler import Scheduler

    stepper, _, _, audio = parts
    scheduler = Scheduler(stepper)
    scheduler.vad.start()
    s = new_session(parts)
    half = len(audio) // 2
    s.on_binary(audio[:half].tobytes())
    s.on_text('{"type": "flush"}')
    s.on_binary(audio[half:].tobytes())
    s.on_text('{"type": "end"}')
    run(scheduler, [s], lambda: s.finished)
    msgs = [m for m in outbox(s) if isinstance(m, dict)]
    finals = [m for m in msgs if m["type"] == "transcript.final"]
    assert len(finals) >= 2
    assert finals[0]["end"] <= half / 16000 + 1e-3 <= finals[-1]["start"] + 0.08  # times rounded to ms
    end = next(m for m in msgs if m["type"] == "session.end")
    assert end["total_audio_seconds"] == pytest.approx(len(audio) / 16000, abs=1e-3)
    assert not np.isnan(end["total_audio_seconds"])
    scheduler.vad.stop()


@pytest.fixture(scope="module")
def shipped(speech_dir):
    """The embedded trained model (real words, so a changed chunking shows up as changed text)."""
    from nemo.collections.asr.models import ASRModel

    from core.catalog import registry
    from workers.engines.wordtimes import Detokenizer
    from workers.streaming.engine import streaming_decoding
    from workers.streaming.vad import load_model

    model = ASRModel.restore_from(registry().resolve("parakeet-tiny-en").path, map_location="cpu").eval()
    model.change_decoding_strategy(decoder_type="rnnt", verbose=False)
    streaming_decoding(model)
    return model, Detokenizer(model.tokenizer), load_model()


@pytest.mark.parametrize("ctx", [[70, 13], [70, 1]])
def test_scheduler_transcript_equals_offline_when_audio_trickles_in(shipped, speech_dir, ctx):
    """Audio arrives in 100 ms frames with a tick after each, so the first chunk is often stepped while
    less than a full steady chunk is waiting: that remainder must wait, not be stepped as a full chunk."""
    from core.protocol import SessionParams
    from tests.speech import synthesize
    from workers.streaming.scheduler import Scheduler
    from workers.streaming.session import Session
    from workers.streaming.stepper import CacheAwareStepper
    from workers.streaming.vad import Endpointer

    model, detok, vad_model = shipped
    stepper = CacheAwareStepper(model, ctx)
    scheduler = Scheduler(stepper)
    scheduler.vad.start()
    texts = [
        "we have seen the light at the end",
        "there is no such thing as fortune",
        "you must learn to tell what the river will",
    ]
    try:
        for k, text in enumerate(texts):
            audio, _ = sf.read(synthesize(text, speech_dir / f"trickle{k}.wav", voice="en-us+m3"), dtype="int16")
            with torch.inference_mode():
                hyp = model.transcribe([audio.astype(np.float32) / 32768], batch_size=1, verbose=False)[0]
            s = Session(
                SessionParams("parakeet-tiny-en", "en", "pcm_s16le", 16000, True, True),
                stepper,
                Endpointer(vad_model),
                detok,
                1 << 20,
            )
            for i in range(0, len(audio), 1600):
                s.on_binary(audio[i : i + 1600].tobytes())
                scheduler.tick([s])
            s.on_text('{"type": "end"}')
            run(scheduler, [s], lambda s=s: s.finished, limit=20000)
            assert hyp.text.strip(), "the shipped model should say something for clear speech"
            assert s.transcript() == hyp.text.strip()
    finally:
        scheduler.vad.stop()
