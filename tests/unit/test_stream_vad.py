"""Silero endpointing on synthesized speech with a known pause."""

from __future__ import annotations

import soundfile as sf

from tests.speech import concatenate, silence, synthesize


def test_endpoints_at_the_pause_and_respect_silence_ms(speech_dir):
    from workers.streaming.vad import Endpointer, load_model

    a = synthesize("hello there my friend", speech_dir / "vad-a.wav")
    b = synthesize("good morning", speech_dir / "vad-b.wav")
    path = concatenate(
        [a, silence(speech_dir / "vad-gap.wav", 1.0), b, silence(speech_dir / "vad-end.wav", 1.0)],
        speech_dir / "vad.wav",
    )
    audio, _ = sf.read(path, dtype="float32")
    first_end = sf.info(a).duration
    ep = Endpointer(load_model(), threshold=0.5, silence_ms=600)
    events = []
    for i in range(0, len(audio), 1000):  # odd piece size: windows span pushes
        events += ep.push(audio[i : i + 1000])
    kinds = [e.kind for e in events]
    assert kinds == ["speech_start", "speech_end", "speech_start", "speech_end"]
    assert abs(events[1].time - first_end) < 0.4
    assert events[1].detected_at - events[1].time >= 0.6 - 1e-9  # needs silence_ms of silence
    assert events[2].time > first_end + 0.8

    strict = Endpointer(load_model(), threshold=0.5, silence_ms=1500)  # longer than the pause: one utterance
    events = [e for i in range(0, len(audio), 4000) for e in strict.push(audio[i : i + 4000])]
    assert [e.kind for e in events] == ["speech_start"]
