"""Streaming for real clients (issue 15, and 14.2 back-pressure): browser and telephony encodings, the
keep-alive/clear/utterance_end protocol, and what happens to clients that send too fast or never read.

One real streaming worker process (gunicorn) serves the embedded trained model, so the words are
real; the codec test goes through the real API relay. The worker runs with small limits (idle 5 s,
outbox 8 messages, 4 KiB send buffer) so each limit is reached within seconds. The machine may be
so busy that the model runs slower than real time, so nothing here depends on its speed except
through limits far from it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request

import jiwer
import numpy as np
import pytest
import soundfile as sf
import soxr
import websocket

from budgie.encode import frames
from budgie.localstack import free_port
from tests.conftest import SHIPPED_MODEL, test_settings, wait_for
from tests.speech import concatenate, silence, synthesize

PATH = "/v1/audio/transcriptions/stream"
PREFIX = "budgie-test"
WORKER_ID = "stream-clients-1"
IDLE_S = 5
MAX_LAG_S = 120
TEXT = "the quick brown fox jumps over the lazy dog"


def client(url: str, **kwargs):
    from budgie.client import StreamClient

    return StreamClient(url, **kwargs)


@pytest.fixture(scope="module")
def worker(redis_client, test_registry, tmp_path_factory):
    from budgie.localstack import start_stream_worker, stop_process, wait_until

    log = tmp_path_factory.mktemp("stream-clients") / "worker.log"
    port = free_port()
    env = {
        **os.environ,
        "WORKER_ID": WORKER_ID,
        "WORKER_PORT": str(port),
        "WORKER_HOST": "127.0.0.1",
        "MAX_SESSIONS": "4",
        "BUDGIE_STREAM_MODEL": SHIPPED_MODEL,
        "BUDGIE_HEARTBEAT_S": "1",
        "BUDGIE_REGISTRY_TTL_S": "5",
        "BUDGIE_STREAM_IDLE_S": str(IDLE_S),
        "BUDGIE_VAD_SILENCE_MS": "400",
        "BUDGIE_TORCH_THREADS": "1",
        "BUDGIE_STREAM_MAX_BACKLOG_S": "200",
        "BUDGIE_STREAM_LAG_WARN_S": "1.5",
        "BUDGIE_STREAM_MAX_LAG_S": str(MAX_LAG_S),
        "BUDGIE_STREAM_MAX_OUTBOX": "8",
        "BUDGIE_STREAM_SEND_BUFFER_BYTES": "4096",
    }
    proc = start_stream_worker(env, log)
    key = f"{PREFIX}:realtime:worker:{WORKER_ID}"
    wait_until(lambda: redis_client.exists(key), proc, log, "streaming worker", timeout=180)
    yield {"url": f"ws://127.0.0.1:{port}{PATH}", "http": f"http://127.0.0.1:{port}", "key": key, "log": log}
    stop_process(proc, timeout=20)


@pytest.fixture(scope="module")
def api_url(redis_client, worker):
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app(test_settings(default_model=SHIPPED_MODEL), testing=True)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_port}{PATH}"
    server.shutdown()


@pytest.fixture(scope="module")
def speech(speech_dir) -> np.ndarray:
    path = synthesize(TEXT, speech_dir / "clients-fox.wav")
    audio, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    return audio


@pytest.fixture(scope="module")
def two_utterances(speech_dir) -> tuple[np.ndarray, float]:
    """Two sentences with a 1.2 s pause; returns the audio and the end of the first sentence."""
    a = synthesize("hello there my friend", speech_dir / "clients-a.wav")
    b = synthesize("speech recognition turns spoken words into text", speech_dir / "clients-b.wav")
    path = concatenate([a, silence(speech_dir / "clients-gap.wav", 1.2), b], speech_dir / "clients-two.wav")
    audio, _ = sf.read(path, dtype="float32")
    return np.concatenate([audio, np.zeros(16000 * 2, np.float32)]), sf.info(a).duration


def active_sessions(redis_client, worker) -> int:
    return int(redis_client.hget(worker["key"], "active_sessions") or -1)


def send(c, audio: np.ndarray, encoding: str, pace: float = 0.0) -> None:
    """Send ``audio`` as ``encoding`` frames of 100 ms; ``pace``: multiple of real time (0 = as fast as possible)."""
    c.stream_as(audio, encoding, realtime=pace)


def send_and_end(c, audio: np.ndarray, encoding: str, pace: float, result: dict) -> None:
    send(c, audio, encoding, pace)
    result["code"] = c.finish()


def transcribe(url: str, audio: np.ndarray, encoding: str, pace: float = 2.0, query: str = "") -> tuple[dict, str]:
    c = client(f"{url}?model={SHIPPED_MODEL}&encoding={encoding}{query}")  # G.711: sample_rate defaults to 8000
    if query:  # pcm_s16le at 8 kHz: the same band as G.711
        c.stream((soxr.resample(audio, 16000, 8000) * 32767).astype("<i2"), chunk=800, realtime=pace)
    else:
        send(c, audio, encoding, pace)
    assert c.finish() == 1000, c.messages[-3:]
    return c.messages[0], c.of_type("session.end")[0]["transcript"]


# -- encodings -------------------------------------------------------------------------------------
def test_same_words_from_pcm_mulaw_and_opus_through_the_api(api_url, speech, record_property):
    """One utterance as pcm_s16le, μ-law 8 kHz and Opus in WebM and Ogg (made with FFmpeg's encoders via
    PyAV, sent frame by frame as it is muxed, at twice real time): the same words, within what the codec
    costs. μ-law is compared with 16-bit PCM at 8 kHz, because the embedded model (trained on 16 kHz
    audio) loses most words to the narrow band itself; that cost is reported too.
    (A-law and linear16 share these code paths: tests/unit/test_stream_encodings.py.)"""
    begin, reference = transcribe(api_url, speech, "pcm_s16le")
    assert jiwer.wer(TEXT, reference) <= 0.25, reference  # the model itself on clean 16 kHz audio
    assert begin["encoding"] == "pcm_s16le" and begin["sample_rate"] == 16000
    _, narrowband = transcribe(api_url, speech, "pcm_s16le", query="&sample_rate=8000")
    report = {"pcm_s16le": {"text": reference}, "pcm_s16le@8k": {"wer_vs_pcm": jiwer.wer(reference, narrowband)}}
    report["pcm_s16le@8k"]["text"] = narrowband
    for encoding, expect_rate, baseline, max_wer in [
        ("mulaw", 8000, narrowband, 0.5),
        ("webm", None, reference, 0.25),
        ("ogg", None, reference, 0.25),
    ]:
        begin, text = transcribe(api_url, speech, encoding)
        assert begin["encoding"] == encoding
        assert begin["sample_rate"] == expect_rate  # 8000 is the G.711 default; containers carry their own
        wer = jiwer.wer(baseline, text)
        report[encoding] = {"wer_vs_same_band_pcm": round(wer, 3), "wer_vs_pcm": jiwer.wer(reference, text)}
        report[encoding]["text"] = text
        assert wer <= max_wer, (encoding, baseline, text)
    record_property("codec_word_diff", json.dumps(report))
    print("\ncodec word diff:", json.dumps(report, indent=1))


def test_undecodable_container_closes_4415(worker):
    c = client(f"{worker['url']}?model={SHIPPED_MODEL}&encoding=webm")
    for _ in range(20):
        c.send_audio(b"this is not a webm stream at all" * 100)
    assert c.drain(15) == 4415  # once FFmpeg's probe (32 KiB) has seen enough
    err = c.of_type("error")[-1]
    assert err["code"] == "invalid_audio" and not err["recoverable"]


def test_new_query_parameters_are_validated_and_echoed(worker):
    c = client(f"{worker['url']}?model={SHIPPED_MODEL}&endpointing=900&vad_threshold=0.6&utterance_end_ms=1500")
    begin = c.wait_for(lambda m: m["type"] == "session.begin", 10)
    assert (begin["vad_silence_ms"], begin["vad_threshold"], begin["utterance_end_ms"]) == (900, 0.6, 1500)
    assert c.finish() == 1000
    for query in ("vad_silence_ms=5", "vad_threshold=high", "utterance_end_ms=-1", "encoding=opus"):
        bad = client(f"{worker['url']}?model={SHIPPED_MODEL}&{query}")
        assert bad.drain(10) == 4400
        assert bad.messages[0]["code"] == "invalid_parameters" and query.split("=")[0] in bad.messages[0]["message"]


# -- protocol for real networks --------------------------------------------------------------------
def test_keepalive_holds_a_silent_session_past_the_idle_limit(worker, redis_client):
    c = client(f"{worker['url']}?model={SHIPPED_MODEL}")
    assert c.wait_for(lambda m: m["type"] == "session.begin", 10)
    started = time.monotonic()
    while time.monotonic() - started < IDLE_S * 1.5:  # past the idle limit with nothing but keep-alives
        c.send_json({"type": "keepalive"})
        c.wait_for(lambda m: False, timeout=1.0)  # read for a second
        assert not c.closed, c.messages
    silent_start = time.monotonic()
    send(c, np.zeros(16000 * (IDLE_S + 1), np.float32), "pcm_s16le", pace=1.0)  # silence audio also keeps it
    assert not c.closed and time.monotonic() - silent_start > IDLE_S
    assert c.drain(IDLE_S + 10) == 4408  # then nothing at all: closed for idleness
    assert c.of_type("error")[-1]["code"] == "session_timeout"
    assert not c.of_type("transcript.final")
    wait_for(lambda: active_sessions(redis_client, worker) == 0, 10, what="slot released")


def test_query_param_endpointing_and_utterance_end(worker, two_utterances):
    audio, first_end = two_utterances
    short = client(f"{worker['url']}?model={SHIPPED_MODEL}&endpointing=300&utterance_end_ms=800")
    long = client(f"{worker['url']}?model={SHIPPED_MODEL}&vad_silence_ms=3000")
    done: dict = {}
    thread = threading.Thread(target=send_and_end, args=(long, audio, "pcm_s16le", 4, done))  # at once: batched
    thread.start()
    send(short, audio, "pcm_s16le", pace=4)
    assert short.finish() == 1000
    thread.join(60)
    assert done["code"] == 1000
    # 1.2 s pause: an endpoint with 300 ms, none with 3000 ms (the final then comes at end)
    assert len(short.of_type("transcript.final")) >= 2
    assert len(long.of_type("transcript.final")) == 1
    assert not long.of_type("utterance_end")  # not asked for
    ends = short.of_type("utterance_end")
    assert ends, short.messages
    assert abs(ends[0]["last_word_end"] - first_end) < 0.5  # the first sentence's last word
    assert ends[0]["timestamp"] - ends[0]["last_word_end"] >= 0.8
    assert short.of_type("session.end")[0]["transcript"].split() == long.of_type("session.end")[0]["transcript"].split()


def test_clear_drops_audio_not_yet_decoded(worker, speech):
    c = client(f"{worker['url']}?model={SHIPPED_MODEL}&interim_results=false")
    long = np.concatenate([speech] * 6)  # ~18 s sent at once: far ahead of the model
    for frame in frames(long, "pcm_s16le", frame_ms=1000):
        c.send_audio(frame)
    c.send_json({"type": "clear"})
    cleared = c.wait_for(lambda m: m["type"] == "audio.cleared", 20)
    assert cleared is not None, c.messages
    assert cleared["discarded_seconds"] > 10  # most of it was still queued
    assert abs(cleared["timestamp"] - len(long) / 16000) < 0.01  # the clock keeps counting what was dropped
    send(c, speech, "pcm_s16le")
    assert c.finish() == 1000
    end = c.of_type("session.end")[0]
    assert abs(end["total_audio_seconds"] - 7 * len(speech) / 16000) < 0.05
    words = end["transcript"].split()
    assert len(words) < 4 * len(TEXT.split())  # the discarded audio was never transcribed
    finals = c.of_type("transcript.final")
    assert finals[-1]["start"] >= cleared["timestamp"] - 0.3  # words after clear are on the session clock


# -- back-pressure ---------------------------------------------------------------------------------
def stats(worker) -> dict:
    return json.loads(urllib.request.urlopen(f"{worker['http']}/stats", timeout=5).read())[SHIPPED_MODEL]


def test_fast_sender_is_closed_for_lag_while_a_real_time_session_goes_on(worker, redis_client, speech):
    """70 s of audio at once beside a real-time session: the fast one (max_lag_s=2) gets processing_lag
    warnings, then error + close 4504 once its oldest audio waited over 2 s; the real-time one is not
    closed and keeps its words; the worker is idle within seconds after the fast client is gone."""
    realtime = client(f"{worker['url']}?model={SHIPPED_MODEL}")
    fast = client(f"{worker['url']}?model={SHIPPED_MODEL}&max_lag_s=2")
    result: dict = {}
    thread = threading.Thread(target=send_and_end, args=(realtime, speech, "pcm_s16le", 1.0, result))
    thread.start()
    flood = np.concatenate([speech] * 24)
    assert fast.wait_for(lambda m: m["type"] == "session.begin", 10)["max_lag_s"] == 2
    for frame in frames(flood, "pcm_s16le", frame_ms=1000):
        fast.send_audio(frame)
    assert fast.drain(30) == 4504
    kinds = [(m["type"], m.get("code")) for m in fast.messages]
    assert ("warning", "processing_lag") in kinds
    assert kinds[-1] == ("error", "processing_lag") and not fast.messages[-1]["recoverable"]
    thread.join(60)
    assert result["code"] == 1000
    assert jiwer.wer(TEXT, realtime.of_type("session.end")[0]["transcript"]) <= 0.25
    fast.close()
    wait_for(lambda: active_sessions(redis_client, worker) == 0, 10, what="both slots released")

    def idle() -> bool:  # no model step for a second
        before = stats(worker)["steps"]
        time.sleep(1.0)
        return stats(worker)["steps"] == before

    wait_for(idle, 10, interval=0, what="the worker to go idle")


def test_client_that_never_reads_is_dropped(worker, redis_client):
    """A client that reads nothing: once its 8-message outbox (behind a 4 KiB socket buffer) is full
    the worker drops the connection without a close frame and frees the slot."""
    wait_for(lambda: active_sessions(redis_client, worker) == 0, 10, what="earlier sessions to release")
    deaf = client(f"{worker['url']}?model={SHIPPED_MODEL}", sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
    wait_for(lambda: active_sessions(redis_client, worker) == 1, 10, what="the session to open")
    sent = 0
    with pytest.raises(
        (OSError, websocket.WebSocketException)
    ):  # the worker drops the connection while the client is still sending
        for sent in range(20000):  # noqa: B007
            deaf.send_audio(b"\x01\x02\x03")  # never reads; each odd-sized frame earns an error message
    assert sent < 5000
    wait_for(lambda: active_sessions(redis_client, worker) == 0, 10, what="the deaf session's slot")
    assert deaf.drain(10) == 1006  # what it had buffered, then the end of the connection: no close frame
    # whatever it had buffered are the errors its frames earned (a reset may discard them unread)
    assert all(m["code"] == "invalid_audio" for m in deaf.of_type("error"))


# -- the CLI ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["mulaw", "webm"])
def test_budgie_stream_encodes_a_file(api_url, speech_dir, encoding):
    """``budgie stream FILE --encoding mulaw|webm``: the CLI encodes on the client, the server decodes."""
    from click.testing import CliRunner

    from budgie.cli import cli

    path = synthesize(TEXT, speech_dir / "clients-cli.wav")
    server = api_url.replace("ws://", "http://").split(PATH)[0]
    result = CliRunner().invoke(
        cli, ["--server", server, "stream", str(path), "--model", SHIPPED_MODEL, "--encoding", encoding, "--fast"]
    )
    assert result.exit_code == 0, result.output
    assert {"quick", "lazy"} & set(result.output.split()), result.output
