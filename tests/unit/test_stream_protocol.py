"""Query-parameter, audio-frame and control-message validation of the streaming protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.catalog import registry
from core.protocol import CLOSE_BAD_PARAMS, CLOSE_TOO_LARGE, ProtocolError, parse_control, parse_params
from tests.conftest import TEST_MODEL, TEST_MODEL_FULL
from workers.streaming.decoding import decode_audio


def params(**args):
    return parse_params(args, registry(), TEST_MODEL)


def test_defaults_and_alias_resolution():
    p, entry = params()
    assert (p.model, p.encoding, p.sample_rate, p.interim_results, p.word_timestamps) == (
        TEST_MODEL,
        "pcm_s16le",
        16000,
        True,
        True,
    )
    assert p.language == "en"
    p, entry = params(
        model="parakeet",
        language="en-US",
        encoding="PCM_F32LE",
        sample_rate="8000",
        interim_results="false",
        word_timestamps="0",
    )
    # model=parakeet streams on the cache-aware family member (issue 16), not the buffered offline one
    assert entry.id == "nemotron-speech-streaming-en-0.6b" and entry.streaming == "cache_aware"
    assert params(model="nvidia/parakeet-rnnt-0.6b")[1].streaming == "buffered"
    assert (p.encoding, p.sample_rate, p.interim_results, p.word_timestamps) == ("pcm_f32le", 8000, False, False)
    assert params(model=TEST_MODEL_FULL)[1].streaming == "buffered"


@pytest.mark.parametrize(
    "args,code,fragment",
    [
        ({"language": "fr"}, "language_not_supported", "only supports English"),
        ({"model": "whisper-9"}, "invalid_parameters", "Unknown model 'whisper-9'"),
        ({"encoding": "mp3"}, "invalid_parameters", "encoding must be one of pcm_s16le, pcm_f32le, mulaw, alaw"),
        ({"sample_rate": "7999"}, "invalid_parameters", "sample_rate must be an integer from 8000 to 48000"),
        ({"sample_rate": "fast"}, "invalid_parameters", "not 'fast'"),
        ({"word_timestamps": "perhaps"}, "invalid_parameters", "word_timestamps must be true or false"),
    ],
)
def test_bad_parameters_are_fatal_4400(args, code, fragment):
    with pytest.raises(ProtocolError) as err:
        params(**args)
    assert err.value.code == code and err.value.close_code == CLOSE_BAD_PARAMS
    assert fragment in err.value.message
    assert err.value.to_message()["recoverable"] is False


def test_decode_s16_and_f32():
    s16 = np.array([0, 16384, -32768], dtype="<i2").tobytes()
    assert decode_audio(s16, "pcm_s16le", 100).tolist() == [0.0, 0.5, -1.0]
    f32 = np.array([0.25, 2.0, -3.0], dtype="<f4").tobytes()
    assert decode_audio(f32, "pcm_f32le", 100).tolist() == [0.25, 1.0, -1.0]  # clipped


@pytest.mark.parametrize(
    "data,encoding,code,fatal",
    [
        (b"\x00\x01\x02", "pcm_s16le", "invalid_audio", False),
        (b"\x00" * 6, "pcm_f32le", "invalid_audio", False),
        (np.array([0.0, np.nan], dtype="<f4").tobytes(), "pcm_f32le", "invalid_audio", False),
        (np.array([np.inf], dtype="<f4").tobytes(), "pcm_f32le", "invalid_audio", False),
        (b"\x00" * 102, "pcm_s16le", "frame_too_large", True),
    ],
)
def test_bad_frames(data, encoding, code, fatal):
    with pytest.raises(ProtocolError) as err:
        decode_audio(data, encoding, 100)
    assert err.value.code == code
    assert (err.value.close_code == CLOSE_TOO_LARGE) if fatal else err.value.close_code is None


def test_control_messages():
    assert parse_control('{"type": "end"}') == {"type": "end"}
    msg = parse_control(json.dumps({"type": "config", "vad_silence_ms": 800, "interim_results": False}))
    assert msg["vad_silence_ms"] == 800
    for bad, fragment in [
        ("{nope", "JSON"),
        ("[1]", "type must be"),
        ('{"type": "rewind"}', "type must be"),
        ('{"type": "config", "speed": 2}', "unknown config keys: speed"),
        ('{"type": "config", "vad_threshold": 2.0}', "between 0.05 and 0.95"),
        ('{"type": "config", "interim_results": 1}', "must be a bool"),
    ]:
        with pytest.raises(ProtocolError) as err:
            parse_control(bad)
        assert err.value.code == "invalid_message" and err.value.close_code is None
        assert fragment in err.value.message
