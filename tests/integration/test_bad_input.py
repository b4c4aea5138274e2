"""The bad-input battery: each kind of hostile or broken upload gets its documented outcome at submit
(docs/api.md, "Bad input"): a JSON 4xx naming the problem, or 201 for audio Budgie does handle.
Never a 5xx, never a job left behind for a rejected request. The WebSocket kinds live with the
streaming tests (tests/integration/test_streaming*.py)."""

from __future__ import annotations

import io
import math
import struct
import wave

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import TEST_MODEL

SR = 16000


def tone(seconds: float = 1.0, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)


def sf_bytes(audio: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav_bytes(seconds: float = 1.0) -> bytes:
    return sf_bytes(tone(seconds), SR, "WAV", "PCM_16")


def truncated_wav() -> bytes:
    return wav_bytes(2.0)[: 44 + SR]  # header says 2 s; half a second of samples follows


def header_only_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
    return buf.getvalue()


def nan_float_wav() -> bytes:
    audio = tone(1.0)
    audio[::7] = np.nan
    audio[::11] = np.inf
    return sf_bytes(audio, SR, "WAV", "FLOAT")


def multichannel_wav(channels: int) -> bytes:
    audio = np.zeros((SR, channels), dtype=np.float32)
    audio[:, 0] = tone(1.0)
    return sf_bytes(audio, SR, "WAV", "PCM_16")


def flac_stating(seconds: float) -> bytes:
    """A FLAC of digital silence (it compresses to almost nothing) stating ``seconds`` of audio."""
    return sf_bytes(np.zeros(int(seconds * 8000), dtype=np.int16), 8000, "FLAC")


def flac_without_length(seconds: float) -> bytes:
    data = bytearray(flac_stating(seconds))
    data[21] &= 0xF0  # STREAMINFO total samples := 0 ("unknown"), as streaming encoders write it
    data[22:26] = b"\0\0\0\0"
    return bytes(data)


def video_without_audio() -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def zip_bomb() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.wav", b"\0" * 50_000_000)
    return buf.getvalue()


ACCEPTED, REJECTED = 201, 400

# (kind, filename, payload factory, expected status, expected error code or None)
UPLOADS = [
    ("empty file", "a.wav", lambda: b"", REJECTED, "invalid_audio"),
    ("header-only WAV", "a.wav", header_only_wav, REJECTED, "invalid_audio"),
    ("truncated WAV (decodes what is there)", "a.wav", truncated_wav, ACCEPTED, None),
    ("text named .wav", "a.wav", lambda: b"hello, I am not audio\n" * 100, REJECTED, "invalid_audio"),
    ("random bytes named .mp3", "a.mp3", lambda: np.random.default_rng(1).bytes(50_000), REJECTED, "invalid_audio"),
    ("a zip file", "a.wav", zip_bomb, REJECTED, "invalid_audio"),
    ("24-bit WAV", "a.wav", lambda: sf_bytes(tone(), SR, "WAV", "PCM_24"), ACCEPTED, None),
    ("IMA ADPCM WAV", "a.wav", lambda: sf_bytes(tone(), SR, "WAV", "IMA_ADPCM"), ACCEPTED, None),
    ("8 kHz mu-law WAV", "a.wav", lambda: sf_bytes(tone(1.0, 8000), 8000, "WAV", "ULAW"), ACCEPTED, None),
    ("96 kHz float WAV", "a.wav", lambda: sf_bytes(tone(1.0, 96000), 96000, "WAV", "FLOAT"), ACCEPTED, None),
    ("NaN and Inf float samples", "a.wav", nan_float_wav, ACCEPTED, None),
    ("9-channel WAV", "a.wav", lambda: multichannel_wav(9), ACCEPTED, None),
    ("32-channel WAV", "a.wav", lambda: multichannel_wav(32), ACCEPTED, None),
    ("video with no audio", "a.mp4", video_without_audio, REJECTED, "invalid_audio"),
    ("too short (50 ms)", "a.wav", lambda: sf_bytes(tone(0.05), SR, "WAV", "PCM_16"), REJECTED, "invalid_audio"),
    ("path traversal filename", "../../../etc/passwd", wav_bytes, ACCEPTED, None),
    ("very long filename", "x" * 2000 + ".wav", wav_bytes, ACCEPTED, None),
    ("control characters in the filename", "a\x01b\x7f\u202e.wav", wav_bytes, ACCEPTED, None),
    ("a line break in the filename (breaks the part header)", "a\r\nb.wav", wav_bytes, REJECTED, None),
]


def post(client, files: list[tuple[str, bytes]] | None = None, **form):
    data: dict = dict(form)
    if files:
        data["file"] = [(io.BytesIO(payload), name) for name, payload in files]
    return client.post("/v1/audio/transcriptions", data=data, content_type="multipart/form-data")


def jobs_in_store(redis_client) -> int:
    return redis_client.zcard("budgie-test:jobs")


def check(resp, status: int, code: str | None, redis_client=None, before: int | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert isinstance(body, dict), "every answer is JSON"
    if status >= 400:
        assert set(body["error"]) >= {"code", "message"}
        if code:
            assert body["error"]["code"] == code, body
        assert "/tmp" not in body["error"]["message"] and "Traceback" not in body["error"]["message"]
        if redis_client is not None:
            assert jobs_in_store(redis_client) == before, "a rejected request must not create a job"
    return body


@pytest.mark.parametrize(("kind", "name", "payload", "status", "code"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_uploads(client, redis_client, kind, name, payload, status, code):
    before = jobs_in_store(redis_client)
    body = check(post(client, [(name, payload())], model=TEST_MODEL), status, code, redis_client, before)
    if status == ACCEPTED:
        stored = client.get(f"/v1/audio/transcriptions/{body['id']}").get_json()
        label = stored["request"]["filename"]
        assert "/" not in label and label.isprintable() and 0 < len(label) <= 200, label


FORMS = [
    ("no file and no URL", None, {}, REJECTED),
    ("two files", [("a.wav", b"x"), ("b.wav", b"y")], {}, REJECTED),
    ("duplicate model field", [("a.wav", b"x")], {"model": [TEST_MODEL, "parakeet-0.6b"]}, REJECTED),
    ("a 1 MB language value", [("a.wav", b"x")], {"language": "e" * 1_000_000}, 413),
    ("unknown field", [("a.wav", b"x")], {"temperatur": "0"}, REJECTED),
    ("unknown model", [("a.wav", b"x")], {"model": "whisper-9"}, REJECTED),
    ("num_speakers below one", [("a.wav", b"x")], {"num_speakers": "0"}, REJECTED),
    ("num_speakers not a number", [("a.wav", b"x")], {"num_speakers": "many"}, REJECTED),
    ("a file and an audio_url", [("a.wav", b"x")], {"audio_url": "https://example.com/a.wav"}, REJECTED),
    ("audio_url to a file: URL", None, {"audio_url": "file:///etc/passwd"}, REJECTED),
    ("audio_url to loopback", None, {"audio_url": "http://127.0.0.1:6379/"}, REJECTED),
]


@pytest.mark.parametrize(("kind", "files", "form", "status"), FORMS, ids=[f[0] for f in FORMS])
def test_forms(client, redis_client, kind, files, form, status):
    before = jobs_in_store(redis_client)
    form = {"model": TEST_MODEL, **form}
    if isinstance(form["model"], list):
        resp = client.post(
            "/v1/audio/transcriptions",
            data={"file": (io.BytesIO(files[0][1]), files[0][0]), "model": form["model"]},
            content_type="multipart/form-data",
        )
    else:
        resp = post(client, files, **form)
    check(resp, status, None, redis_client, before)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("a FLAC stating two hours (a decompression bomb: tiny file, long audio)", lambda: flac_stating(2 * 3600)),
        ("a FLAC stating no length, two hours long", lambda: flac_without_length(2 * 3600)),
    ],
)
def test_audio_longer_than_the_limit_is_refused_without_decoding_it(redis_client, kind, payload):
    from app import create_app
    from tests.conftest import test_settings

    client = create_app(test_settings(max_duration_s=600), testing=True).test_client()
    before = jobs_in_store(redis_client)
    body = check(post(client, [("a.flac", payload())], model=TEST_MODEL), 400, "invalid_audio", redis_client, before)
    assert "too long" in body["error"]["message"]


def test_malformed_multipart_body(client, redis_client):
    before = jobs_in_store(redis_client)
    resp = client.post(
        "/v1/audio/transcriptions",
        data=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=abc",
    )
    check(resp, 400, None, redis_client, before)


def test_json_body_of_the_wrong_shape(client, redis_client):
    before = jobs_in_store(redis_client)
    check(client.post("/v1/audio/transcriptions", json=[1, 2, 3]), 400, None, redis_client, before)
    check(client.post("/v1/audio/transcriptions", data=b"{not json", content_type="application/json"), 400, None)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/audio/transcriptions/" + "j" * 10_000, 414),
        ("/v1/audio/transcriptions/job_%00%2F..%2F", 404),
        ("/v1/audio/transcriptions/job_x/export/exe", 404),
        ("/v1/audio/transcriptions?limit=-1", 400),
        ("/v1/audio/transcriptions?limit=99999999999999999999", 400),
        ("/v1/audio/transcriptions?cursor=NaN", 400),
        ("/v1/audio/transcriptions?status=everything", 400),
    ],
)
def test_hostile_reads(client, path, status):
    check(client.get(path), status, None)


def test_oversized_request_lines_and_headers_get_json_from_gunicorn(tmp_path):
    """gunicorn answers its own limits with an HTML page; Budgie's are JSON 414/431 (the API as deployed)."""
    import requests

    from tests.apiserver import gunicorn_api

    with gunicorn_api(tmp_path / "api.log") as api:
        long_id = requests.get(f"{api.url}/v1/audio/transcriptions/{'j' * 10_000}", timeout=10)
        assert long_id.status_code == 414 and long_id.json()["error"]["code"] == "uri_too_long"
        big_header = requests.get(f"{api.url}/v1/models", headers={"X-Big": "b" * 20_000}, timeout=10)
        assert big_header.status_code == 431 and big_header.json()["error"]["code"] == "headers_too_large"
        assert requests.get(f"{api.url}/v1/audio/transcriptions/{'j' * 500}", timeout=10).status_code == 404


def test_struct_is_used():  # keeps the import honest for the header-building helpers above
    assert struct.calcsize("<I") == 4
