"""The Parakeet family through the production loader and batch engine: RNN-T, TDT, CTC and hybrid
heads chosen by registry fields, on random-weight models built from each architecture's config."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.family import ENTRIES, build_checkpoints, write_registry
from tests.speech import synthesize


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """The family registry (built-in entries plus one random-weight stand-in per architecture)."""
    from registry import load_registry

    build_checkpoints()
    return load_registry(str(write_registry(tmp_path_factory.mktemp("family") / "family.yaml")))


@pytest.fixture(scope="module")
def speech(speech_dir) -> np.ndarray:
    path = synthesize("speech recognition turns spoken words into text", speech_dir / "family.wav")
    audio, _ = sf.read(path, dtype="float32")
    return audio


def direct(model, audio: np.ndarray):
    """The engine's own output: NeMo ``transcribe()`` on the whole clip, nothing of Budgie's."""
    hyps = model.transcribe([audio], batch_size=1, return_hypotheses=True, verbose=False)
    hyps = hyps[0] if isinstance(hyps, tuple) else hyps
    model.eval()  # transcribe() leaves the modules in train mode
    return hyps[0]


def spoken(text: str) -> list[str]:
    """NeMo's text without control pieces (Budgie never writes <unk> or <EOU> as words)."""
    return text.replace("<EOU>", " ").replace("⁇", " ").split()


@pytest.mark.parametrize("entry_id", list(ENTRIES))
def test_batch_transcribe_equals_the_engine_with_native_word_times(family, speech, entry_id):
    from workers.engines.heads import tokens_from_hypothesis, uses_ctc
    from workers.engines.loader import get_model
    from workers.engines.parakeet import transcribe_audio

    entry = family.resolve(entry_id)
    model = get_model(entry, "cpu")
    assert uses_ctc(model) == (entry.decodes_with == "ctc")  # the head the registry names is the one served
    duration = len(speech) / 16000 + 5e-4  # times are rounded to the millisecond
    transcript = transcribe_audio(model, speech, max_chunk_s=60)
    hyp = direct(model, speech)
    assert transcript["words"], "random weights still emit tokens"
    assert [w["text"] for w in transcript["words"]] == spoken(hyp.text)
    starts = [w["start"] for w in transcript["words"]]
    assert starts == sorted(starts)
    assert all(0.0 <= w["start"] <= w["end"] <= duration for w in transcript["words"])
    assert all(
        a["end"] <= b["start"] + 1e-9 for a, b in zip(transcript["words"], transcript["words"][1:], strict=False)
    )
    assert "<EOU>" not in transcript["text"]

    tokens = tokens_from_hypothesis(model, hyp)
    assert all(s < e for s, e in zip(tokens.starts, tokens.ends, strict=True))
    frames = int(np.ceil(len(speech) / 1280))  # encoder frames of the clip
    assert all(s >= 0 and e <= frames + 1 for s, e in zip(tokens.starts, tokens.ends, strict=True))
    if entry.decodes_with == "tdt":  # TDT: each token lasts its predicted duration
        durations = [max(1, int(d)) for d in hyp.token_duration]
        assert [e - s for s, e in zip(tokens.starts, tokens.ends, strict=True)] == durations
        assert any(d > 1 for d in durations)
    if entry.decodes_with == "ctc":  # CTC: a token spans its run of frames, runs never overlap
        assert all(e <= s2 for e, s2 in zip(tokens.ends, tokens.starts[1:], strict=False))
        assert any(e - s > 1 for s, e in zip(tokens.starts, tokens.ends, strict=True))


def test_a_registry_head_the_checkpoint_lacks_is_a_clear_load_error(family, tmp_path):
    from registry import load_registry
    from tests.family import checkpoint_path
    from workers.engines.loader import ModelLoadError, load_nemo_model

    wrong = tmp_path / "wrong.yaml"
    tdt = checkpoint_path("tdt")
    wrong.write_text(
        f"models:\n"
        f"  - {{id: says-ctc, engine: parakeet, decoder: ctc, source: {{path: {tdt}}}}}\n"
        f"  - {{id: says-hybrid, engine: parakeet, decoder: tdt, head: ctc, source: {{path: {tdt}}}}}\n"
    )
    reg = load_registry(str(wrong))
    with pytest.raises(ModelLoadError, match="decoder ctc, the checkpoint is tdt"):
        load_nemo_model(reg.resolve("says-ctc"), "cpu")
    with pytest.raises(ModelLoadError, match="hybrid"):
        load_nemo_model(reg.resolve("says-hybrid"), "cpu")
