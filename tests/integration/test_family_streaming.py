"""Streaming the Parakeet family: per-session trained attention contexts (?chunk_ms=), streaming equal
to offline at each trained lookahead, <EOU> endpointing, and language/chunk validation at connect."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import TEST_MODEL_FULL
from tests.conftest import test_settings as settings_with
from tests.family import MULTI_CONTEXTS, build_checkpoints
from tests.speech import synthesize

MULTI = "family-multi"  # cache-aware hybrid RNNT+CTC, contexts as stt_en_fastconformer_hybrid_large_streaming_multi
EOU = "family-eou"  # cache-aware RNNT whose vocabulary has <EOU>, as parakeet_realtime_eou_120m-v1


@pytest.fixture(scope="module")
def speech(speech_dir, test_registry) -> np.ndarray:
    build_checkpoints()
    path = synthesize("a journey of a thousand miles begins with a single step", speech_dir / "family-stream.wav")
    audio, _ = sf.read(path, dtype="float32")
    return audio


def offline_tokens(model, audio: np.ndarray, ctx: list[int]) -> tuple[list[int], list[int]]:
    """Greedy tokens and frames of the whole clip at attention context ``ctx`` (no streaming code)."""
    import torch

    model.encoder.set_default_att_context_size(ctx)
    with torch.inference_mode():
        feats, flen = model.preprocessor(input_signal=torch.from_numpy(audio)[None], length=torch.tensor([len(audio)]))
        enc, elen = model.encoder(audio_signal=feats, length=flen)
        hyp = model.decoding.rnnt_decoder_predictions_tensor(
            encoder_output=enc, encoded_lengths=elen, return_hypotheses=True
        )[0]
    return hyp.y_sequence.tolist(), hyp.timestamp.tolist()


def test_each_trained_context_streams_exactly_the_offline_tokens_while_sharing_one_model(speech):
    """One stepper per trained context, all on one model, stepped in turn (as sessions that picked
    different chunk_ms are): each gives the offline greedy tokens and frames of its context."""
    from core.catalog import registry
    from workers.streaming.engine import build_steppers

    entry = registry().resolve(MULTI)
    steppers = build_steppers(entry, settings_with(stream_att_context=None))
    assert sorted(steppers) == [80, 160, 560, 1120] and next(iter(steppers)) == 1120  # registry default first
    model = next(iter(steppers.values())).model
    assert all(s.model is model for s in steppers.values())
    states = {ms: s.new_state() for ms, s in steppers.items()}
    out: dict[int, tuple[list[int], list[int]]] = {ms: ([], []) for ms in steppers}

    def take(ms, outputs):
        for o in outputs:
            out[ms][0].extend(o.token_ids)
            out[ms][1].extend(o.frames)

    for i in range(0, len(speech), 1280):  # 80 ms pieces, every context advanced in turn
        for ms, stepper in steppers.items():
            stepper.add_audio(states[ms], speech[i : i + 1280])
            while stepper.ready(states[ms]):
                take(ms, stepper.step([states[ms]]))
    for ms, stepper in steppers.items():
        stepper.finish_audio(states[ms])
        while stepper.ready(states[ms]):
            take(ms, stepper.step([states[ms]]))
        take(ms, stepper.step([states[ms]], last=True))
    for ctx in MULTI_CONTEXTS:
        ms = 80 * (ctx[1] + 1)
        tokens, frames = offline_tokens(model, speech, ctx)
        assert tokens, "random weights still emit tokens"
        assert out[ms] == (tokens, frames), f"context {ctx} ({ms} ms)"
    assert out[80][0] != out[1120][0]  # the contexts really differ (so equality above means something)


def session_for(model_id: str, endpointing: tuple[str, ...]):
    """A real Session and Scheduler for ``model_id`` (no socket: the test drives the decoder output)."""
    from core.catalog import registry
    from core.protocol import parse_params
    from workers.engines.wordtimes import Detokenizer
    from workers.streaming.engine import build_stepper
    from workers.streaming.scheduler import Scheduler
    from workers.streaming.session import Session

    params, entry = parse_params({"model": model_id}, registry(), model_id)
    stepper = build_stepper(entry, settings_with())
    detok = Detokenizer(stepper.model.tokenizer)
    session = Session(params, stepper, None, detok, 1 << 16)
    session.endpointing = endpointing
    session.utterance.eou_id = detok.token_id(entry.eou_token)
    return session, Scheduler(stepper), detok


def outbox(session) -> list[dict]:
    items = []
    while not session.outbox.empty():
        items.append(session.outbox.get()[0])
    return items


def test_eou_token_ends_the_utterance_and_is_never_text(speech):
    session, sched, detok = session_for(EOU, ("eou", "vad"))
    eou = session.utterance.eou_id
    assert eou is not None and detok.plain[eou] is None
    tokens = detok.tokenizer.text_to_ids("all that glitters is not gold")  # what the decoder emitted
    frames = list(range(3, 3 + 2 * len(tokens), 2))
    cut = len(detok.tokenizer.text_to_ids("all that glitters"))  # the model says the utterance ended here
    ids = [*tokens[:cut], eou, *tokens[cut:], eou]
    stamps = [*frames[:cut], frames[cut - 1], *frames[cut:], frames[-1]]
    session.utterance.add(ids[: cut + 3], stamps[: cut + 3])  # the decoder output arrives step by step
    sched._commit_at_eou(session)
    session.utterance.add(ids[cut + 3 :], stamps[cut + 3 :])
    sched._commit_at_eou(session)
    finals = [m for m in outbox(session) if m["type"] == "transcript.final"]
    assert [f["end_reason"] for f in finals] == ["eou", "eou"]
    assert finals[0]["text"] == "all that glitters" and finals[1]["text"] == "is not gold"
    everything = " ".join(f["text"] for f in finals)
    assert everything.split() == [w["text"] for w in detok.words(tokens, frames, 0.08, 0.0)]
    assert "<EOU>" not in everything and all("<EOU>" not in w["text"] for f in finals for w in f["words"])
    assert session.utterance.ids == []  # nothing left over, the EOU pieces were consumed


def test_vad_only_endpointing_ignores_the_eou_token(speech):
    session, sched, detok = session_for(EOU, ("vad",))
    tokens = detok.tokenizer.text_to_ids("the early bird catches the worm")
    frames = list(range(2, 2 + 2 * len(tokens), 2))
    eou = session.utterance.eou_id
    session.utterance.add([*tokens[:4], eou, *tokens[4:]], [*frames[:4], frames[3], *frames[4:]])
    sched._commit_at_eou(session)
    assert not [m for m in outbox(session) if m["type"] == "transcript.final"]
    assert session.utterance.ids == tokens  # the EOU piece is dropped, the utterance goes on
    sched._commit(session, end_reason="end")
    (final,) = [m for m in outbox(session) if m["type"] == "transcript.final"]
    assert final["end_reason"] == "end" and final["text"] == "the early bird catches the worm"


def test_endpointing_follows_the_registry_and_the_operator():
    from core.catalog import registry
    from workers.streaming.scheduler import endpointing

    eou, plain = registry().resolve(EOU), registry().resolve(MULTI)
    assert endpointing(eou) == ("eou", "vad") and endpointing(plain) == ("vad",)
    assert endpointing(eou, ("eou",)) == ("eou",)
    assert endpointing(plain, ("eou",)) == ("vad",)  # a model without <EOU> never loses its endpointer


@pytest.fixture(scope="module")
def stream_url(speech, redis_client):
    """An in-process streaming worker (flask-sock on werkzeug) serving the multi-context model."""
    from tests.apiserver import threaded_server
    from workers.streaming.server import StreamWorker, create_app

    config = settings_with(stream_model=(MULTI, TEST_MODEL_FULL), stream_att_context=None, worker_id="family-1")
    worker = StreamWorker(config)
    with threaded_server(create_app(config, worker)) as base:
        yield base.replace("http", "ws") + "/v1/audio/transcriptions/stream"
    worker.shutdown()


def test_chunk_ms_picks_a_trained_context_per_session_and_streams_like_offline(stream_url, speech):
    from budgie.client import StreamClient
    from core.catalog import registry
    from workers.engines.loader import get_model

    pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2")
    c = StreamClient(f"{stream_url}?model={MULTI}&chunk_ms=560")
    c.stream(pcm, chunk=1600)
    assert c.finish() == 1000
    begin = c.messages[0]
    assert begin["chunk_ms"] == 560 and begin["mode"] == "cache_aware" and begin["endpointing"] == ["vad"]
    finals = c.of_type("transcript.final")
    assert finals and all(f["end_reason"] in ("vad", "end") for f in finals)
    assert finals[-1]["end_reason"] == "end"
    from workers.engines.wordtimes import Detokenizer

    model = get_model(registry().resolve(MULTI), "cpu")
    tokens, frames = offline_tokens(model, (pcm / 32768.0).astype(np.float32), [70, 6])
    expected = [w["text"] for w in Detokenizer(model.tokenizer).words(tokens, frames, 0.08, 0.0)]
    assert " ".join(f["text"] for f in finals).split() == expected

    default = StreamClient(f"{stream_url}?model={MULTI}")
    assert default.wait_for(lambda m: m["type"] == "session.begin", 20)["chunk_ms"] == 1120
    assert default.finish() == 1000


@pytest.mark.parametrize(
    "query,fragment",
    [
        (f"model={MULTI}&chunk_ms=100", "80, 160, 560, 1120"),
        (f"model={MULTI}&chunk_ms=fast", "80, 160, 560, 1120"),
        (f"model={TEST_MODEL_FULL}&chunk_ms=160", "buffered"),
        ("model=parakeet-tdt-0.6b-v3&language=ja", "supports only: bg, hr"),
    ],
)
def test_unsupported_chunk_or_language_closes_4400_naming_the_valid_ones(stream_url, query, fragment):
    from budgie.client import StreamClient

    c = StreamClient(f"{stream_url}?{query}")
    assert c.drain(10) == 4400
    assert c.messages[0]["type"] == "error" and fragment in c.messages[0]["message"]
