"""Wire encodings of the streaming protocol: G.711 tables, incremental WebM/Ogg demuxing, new parameters."""

from __future__ import annotations

import numpy as np
import pytest

from budgie.encode import frames
from core.catalog import registry
from core.protocol import CLOSE_BAD_PARAMS, ProtocolError, parse_control, parse_params
from tests.conftest import TEST_MODEL
from workers.streaming.containers import ContainerDecoder
from workers.streaming.decoding import decode_audio, g711_table


def tone(seconds: float = 2.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def params(**args):
    return parse_params(args, registry(), TEST_MODEL)[0]


def test_encoding_defaults_and_aliases():
    assert params(encoding="linear16").encoding == "pcm_s16le"
    assert params(encoding="mulaw").sample_rate == 8000 and params(encoding="alaw").sample_rate == 8000
    assert params(encoding="mulaw", sample_rate="16000").sample_rate == 16000
    webm = params(encoding="webm", sample_rate="44100")
    assert webm.sample_rate is None and webm.container  # the container says what its rate is
    p = params(endpointing="800", vad_threshold="0.3", utterance_end_ms="1200")
    assert (p.vad_silence_ms, p.vad_threshold, p.utterance_end_ms) == (800, 0.3, 1200)
    assert params(vad_silence_ms="700", endpointing="900").vad_silence_ms == 700  # the canonical name wins
    assert params().vad_silence_ms is None  # the worker's default applies


@pytest.mark.parametrize(
    "args", [{"endpointing": "50"}, {"vad_threshold": "1.5"}, {"utterance_end_ms": "soon"}, {"encoding": "opus"}]
)
def test_bad_new_parameters_close_4400(args):
    with pytest.raises(ProtocolError) as err:
        params(**args)
    assert err.value.close_code == CLOSE_BAD_PARAMS and next(iter(args)) in err.value.message


def test_keepalive_clear_and_utterance_end_config_are_control_messages():
    assert parse_control('{"type": "keepalive"}')["type"] == "keepalive"
    assert parse_control('{"type": "clear"}')["type"] == "clear"
    assert parse_control('{"type": "config", "utterance_end_ms": 1000}')["utterance_end_ms"] == 1000
    with pytest.raises(ProtocolError, match="utterance_end_ms must be between"):
        parse_control('{"type": "config", "utterance_end_ms": 10}')


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_tables_match_the_standard_and_round_trip(encoding):
    table = g711_table(encoding)
    assert table.shape == (256,) and np.all(np.abs(table) <= 1.0)
    # ITU-T G.711: μ-law 0x00 is -8031/8192 full scale (-32124 in 16 bit), 0xFF is 0; A-law 0xD5 is +8
    if encoding == "mulaw":
        assert table[0] * 32768 == -32124 and table[0xFF] == 0.0
    else:
        assert table[0xD5] * 32768 == 8 and table[0x55] * 32768 == -8
    audio = tone(1.0)
    wire = b"".join(frames(audio, encoding))
    assert len(wire) == 8000  # one byte per sample at 8 kHz
    decoded = decode_audio(wire, encoding, 1 << 20)
    reference = audio[::2]
    lag = int(np.argmax(np.correlate(decoded[:2000], reference[:2000], "full"))) - 1999
    err = decoded[max(0, lag) :][:7000] - reference[: 7000 + min(0, lag)][:7000]
    snr = 10 * np.log10(np.mean(reference**2) / np.mean(err**2))
    assert snr > 25, snr  # G.711 gives ~38 dB on a loud tone


@pytest.mark.parametrize("encoding", ["webm", "ogg"])
def test_container_streams_decode_incrementally_to_16k(encoding):
    audio = tone(2.0)
    pieces = list(frames(audio, encoding))
    got: list[np.ndarray] = []
    errors: list[str] = []
    decoder = ContainerDecoder(encoding, lambda samples, t: got.append(samples), errors.append)
    decoder.start()
    decoded_after = []
    for piece in pieces:
        decoder.feed(piece)
        decoder.settle(5)
        decoded_after.append(sum(g.size for g in got))
    decoder.finish()
    assert not errors and not decoder.is_alive()
    # audio comes out while bytes keep arriving, not at the end: after half the stream, most of its first half
    assert decoded_after[len(pieces) // 2] >= 0.35 * audio.size
    out = np.concatenate(got)
    assert abs(out.size - audio.size) <= 320  # 16 kHz mono, the same duration
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=0.1)


def test_garbage_container_reports_one_error_and_an_empty_one_none():
    errors: list[str] = []
    bad = ContainerDecoder("webm", lambda samples, t: None, errors.append)
    bad.start()
    bad.feed(b"definitely not matroska" * 200)
    bad.finish(10)
    assert len(errors) == 1 and "could not decode the webm stream" in errors[0]
    quiet: list[str] = []
    empty = ContainerDecoder("ogg", lambda samples, t: None, quiet.append)
    empty.start()
    empty.finish(10)
    assert not quiet and not empty.is_alive()
