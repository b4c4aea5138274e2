import numpy as np
import pytest

from core.audio import AudioError, decode, probe
from tests.speech import synthesize


@pytest.mark.parametrize("ext,rate", [("wav", 16000), ("flac", 44100), ("mp3", 22050), ("ogg", 48000)])
def test_decode_any_format_to_16k_mono(speech_dir, ext, rate):
    path = synthesize("testing one two three", speech_dir / f"t{rate}.{ext}", sample_rate=rate)
    info = probe(path)
    audio = decode(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - info.duration) < 0.1
    assert 0.01 < np.abs(audio).max() <= 1.0


def test_stereo_is_downmixed(speech_dir):
    import soundfile as sf

    stereo = np.stack([np.sin(np.linspace(0, 2000, 32000)), np.zeros(32000)], axis=1).astype(np.float32) * 0.5
    sf.write(speech_dir / "stereo.wav", stereo, 32000)
    assert probe(speech_dir / "stereo.wav").channels == 2
    assert len(decode(speech_dir / "stereo.wav")) == 16000


def test_garbage_raises_audio_error(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(AudioError, match="Unable to read"):
        probe(path)


def test_only_16k_mono_pcm16_wav_skips_conversion(speech_dir):
    from core.audio import is_prepared_wav

    assert is_prepared_wav(synthesize("ready", speech_dir / "ready.wav"))
    assert not is_prepared_wav(synthesize("resample me", speech_dir / "r44.wav", sample_rate=44100))
    assert not is_prepared_wav(synthesize("a flac", speech_dir / "a.flac"))


@pytest.mark.parametrize("channels", [9, 17, 32])
def test_any_channel_count_is_downmixed_at_probe_and_decode(tmp_path, channels):
    """FFmpeg knows no layout for 9/17/32 channels; such files used to pass submit and fail in prepare."""
    import soundfile as sf

    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    audio = np.zeros((16000, channels), dtype=np.float32)
    audio[:, channels - 1] = tone
    path = tmp_path / f"{channels}ch.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    info = probe(path)
    assert info.channels == channels and info.duration == pytest.approx(1.0)
    mono = decode(path)
    assert mono.shape == (16000,)
    assert np.allclose(mono, tone / channels, atol=2e-3), "the downmix is the mean of the channels"


def test_a_stream_with_no_stated_length_is_decoded_only_past_the_limit(tmp_path):
    """A FLAC whose header does not state its length (streamed encoders write 0) used to be decoded to
    its end inside the HTTP request; now the probe stops just past the duration limit."""
    import soundfile as sf

    path = tmp_path / "nolength.flac"
    sf.write(path, np.zeros(16000 * 120, dtype=np.int16), 16000, format="FLAC")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    data[21] &= 0xF0  # STREAMINFO total-samples field (36 bits) := 0, "unknown"
    data[22:26] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    assert probe(path).duration == pytest.approx(120, abs=0.1)  # no limit: decoded to the end
    capped = probe(path, max_duration_s=30)
    assert 30 < capped.duration < 31, capped


def test_nan_and_inf_float_samples_become_silence(tmp_path):
    import soundfile as sf

    audio = (0.3 * np.sin(np.arange(32000) * 0.1)).astype(np.float32)
    audio[::7], audio[::11] = np.nan, np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, np.stack([audio, audio], axis=1), 16000, subtype="FLOAT")
    mono = decode(path)
    assert np.isfinite(mono).all() and np.abs(mono).max() <= 1.0
    assert mono[1] == pytest.approx(audio[1], abs=1e-6), "finite samples pass unchanged"
