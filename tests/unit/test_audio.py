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
