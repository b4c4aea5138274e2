"""The Parakeet family through the production loader and batch engine: RNN-T, TDT, CTC and hybrid
heads chosen by registry fields, on random-weight models built from each architecture's config."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.family import ENTRIES, build_checkpoints
from tests.speech import synthesize


@pytest.fixture(scope="module")
def family(test_registry):
    """The test registry (built-in entries plus one random-weight stand-in per architecture, built now)."""
    from core.catalog import registry

    build_checkpoints()
    return registry()


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


@pytest.fixture()
def hub_cache(tmp_path):
    return tmp_path / "hub"


@pytest.fixture()
def api(redis_client, hub_cache):
    from app import create_app
    from tests.conftest import TEST_MODEL, test_settings

    return create_app(test_settings(default_model=TEST_MODEL, hf_hub_cache=str(hub_cache)), testing=True).test_client()


def test_models_list_every_family_member_with_decoder_languages_streaming_and_weights_state(api, hub_cache):
    data = {m["id"]: m for m in api.get("/v1/models").get_json()["data"]}
    family = [
        "parakeet-tdt-0.6b-v2",
        "parakeet-tdt-0.6b-v3",
        "parakeet-tdt-1.1b",
        "parakeet-ctc-0.6b",
        "parakeet-ctc-1.1b",
        "parakeet-tdt_ctc-110m",
        "parakeet-tdt_ctc-110m-ctc",
        "nemotron-speech-streaming-en-0.6b",
        "parakeet-realtime-eou-120m",
        "fastconformer-hybrid-large-streaming-multi",
    ]
    for model_id in family:
        m = data[model_id]
        assert m["state"] == "missing" and m["available"] is False, model_id  # nothing pulled into this cache
        assert m["capabilities"]["decoder"] == m["decodes_with"] in ("rnnt", "tdt", "ctc")
        assert m["languages"] and m["streaming_mode"] in ("cache_aware", "buffered", "none")
    v3 = data["parakeet-tdt-0.6b-v3"]
    assert len(v3["languages"]) == 25 and "uk" in v3["languages"] and v3["decoder"] == "tdt"
    multi = data["fastconformer-hybrid-large-streaming-multi"]
    assert multi["streaming_mode"] == "cache_aware" and multi["chunk_ms"] == [1120, 560, 160, 80]
    assert multi["att_context_sizes"] == [[70, 13], [70, 6], [70, 1], [70, 0]]
    assert data["parakeet-ctc-0.6b"]["decodes_with"] == "ctc" and data["parakeet-tdt_ctc-110m-ctc"]["head"] == "ctc"
    eou = data["parakeet-realtime-eou-120m"]
    assert eou["eou_token"] == "<EOU>" and eou["endpointing"] == ["eou", "vad"]
    assert data["parakeet-tiny-en"]["state"] in ("available", "loaded")  # shipped in the repository

    # once the weights are where NeMo's from_pretrained looks, the model is available
    snapshot = hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "parakeet-tdt-0.6b-v2.nemo").write_bytes(b"weights")
    (hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2" / "refs").mkdir()
    (hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2" / "refs" / "main").write_text("abc123")
    got = api.get("/v1/models/nvidia/parakeet-tdt-0.6b-v2").get_json()
    assert got["id"] == "parakeet-tdt-0.6b-v2" and got["state"] == "available"


@pytest.mark.parametrize("language,ok", [("ja", False), ("uk", True), ("de-AT", True), ("xx", False)])
def test_submit_validates_the_language_against_the_models_list(api, speech_dir, language, ok):
    import io

    wav = synthesize("hello there", speech_dir / "family-lang.wav").read_bytes()
    resp = api.post(
        "/v1/audio/transcriptions",
        data={"file": (io.BytesIO(wav), "a.wav"), "model": "nvidia/parakeet-tdt-0.6b-v3", "language": language},
        content_type="multipart/form-data",
    )
    if ok:
        assert resp.status_code == 201, resp.get_data(as_text=True)
    else:
        assert resp.status_code == 400
        error = resp.get_json()["error"]
        assert error["code"] == "language_not_supported" and "bg, hr, cs" in error["message"]


def budgie_cli(*args: str, **env: str):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    return subprocess.run(
        [sys.executable, "-m", "budgie.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_pull_without_the_hub_fails_with_one_clear_line_and_exit_1(tmp_path):
    """The real download path (huggingface_hub, NeMo's file name) up to the network error: the hub
    endpoint is a closed local port, as on a host without internet."""
    from budgie.localstack import free_port

    done = budgie_cli(
        "models",
        "pull",
        "nvidia/parakeet-tdt-0.6b-v2",
        HF_HUB_OFFLINE="0",
        HF_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        HF_HUB_CACHE=str(tmp_path / "hub"),
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: could not download nvidia/parakeet-tdt-0.6b-v2/parakeet-tdt-0.6b-v2.nemo")
    assert "check the network" in last
    assert not list((tmp_path / "hub").rglob("*.nemo"))  # nothing half-written passes for weights
    unknown = budgie_cli("models", "pull", "whisper-9")
    assert unknown.returncode == 2 and "Unknown model 'whisper-9'" in unknown.stderr


def test_pull_to_writes_a_nemo_that_serves_through_source_path(family, tmp_path, speech):
    """--to on a locally built model: the copy, its SHA-256 and a registry entry using it load and
    transcribe through the production loader."""
    from registry import load_registry
    from workers.engines.loader import load_nemo_model
    from workers.engines.parakeet import configure_decoding, transcribe_audio

    out = tmp_path / "airgap"
    done = budgie_cli("models", "pull", "family-tdt", "--to", str(out))
    assert done.returncode == 0, done.stderr
    copy = out / "family-tdt.nemo"
    line = next(x for x in done.stdout.splitlines() if x.startswith("family-tdt\t"))
    digest = line.split("sha256=")[1]
    import hashlib

    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
    snippet = next(x for x in done.stdout.splitlines() if "registry:" in x).split("registry: ")[1]
    (tmp_path / "airgap.yaml").write_text(
        f"models:\n  - id: airgapped-tdt\n    engine: parakeet\n    decoder: tdt\n    {snippet}\n"
    )
    entry = load_registry(str(tmp_path / "airgap.yaml")).resolve("airgapped-tdt")
    assert entry.path == str(copy) and entry.sha256 == digest
    model = load_nemo_model(entry, "cpu")
    configure_decoding(model)
    assert transcribe_audio(model, speech)["words"]
