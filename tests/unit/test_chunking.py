import numpy as np

from core.audio import read_wav
from tests.speech import concatenate, silence, synthesize
from workers.engines.chunking import plan_chunks, split_long_audio


def test_regions_are_packed_and_cut_only_in_pauses():
    regions = [(0, 40), (60, 90), (110, 150), (170, 190)]
    chunks = plan_chunks(regions, total=200, max_len=100, pad=5)
    assert chunks == [(0, 95), (105, 195)]
    assert all(e - s <= 100 for s, e in chunks)


def test_speech_longer_than_a_chunk_is_hard_split():
    chunks = plan_chunks([(0, 250)], total=300, max_len=100, pad=0)
    assert chunks == [(0, 100), (100, 200), (200, 250)]


def test_short_audio_is_one_chunk():
    assert split_long_audio(np.zeros(16000 * 5, dtype=np.float32), max_chunk_s=60) == [(0, 80000)]


def test_real_vad_cuts_between_sentences(speech_dir):
    sentence = synthesize("this sentence is followed by a clear pause", speech_dir / "s.wav")
    gap = silence(speech_dir / "g.wav", 2.0)
    path = concatenate([sentence, gap, sentence, gap, sentence, gap, sentence], speech_dir / "four.wav")
    audio = read_wav(path)
    chunks = split_long_audio(audio, max_chunk_s=6.0)
    assert len(chunks) >= 2 and all(e - s <= 6 * 16000 for s, e in chunks)
    energy = [float(np.abs(audio[max(0, s - 160) : s + 160]).mean()) for s, _ in chunks[1:]]
    assert max(energy) < 0.01, "cuts fall in silence, not in speech"


def test_hours_of_silence_never_reach_the_vad(monkeypatch):
    """Three hours of digital silence used to hold the transcribe worker for minutes of VAD."""
    from workers.engines import chunking

    calls = []
    monkeypatch.setattr(chunking, "speech_timestamps", lambda audio, **kw: calls.append(len(audio)) or [])
    audio = np.zeros(16000 * 3 * 3600, dtype=np.float32)
    assert chunking.speech_regions(audio) == [] and calls == []
    audio[16000 * 5000 : 16000 * 5001] = 0.2  # one loud second in the middle
    assert chunking.loud_spans(audio) == [(16000 * 5000 - 8000, 16000 * 5001 + 8000)]
    chunking.speech_regions(audio)
    assert calls == [16000 * 2], "only the loud second (and its hangover) is shown to the VAD"
