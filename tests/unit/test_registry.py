import pytest

from registry import UnknownModelError, load_registry
from registry.catalog import _read


def test_seed_entries_and_aliases():
    reg = load_registry()
    p = reg.resolve("parakeet")
    assert p.id == "parakeet-0.6b" and p.hub == "nvidia/parakeet-rnnt-0.6b" and p.vram_gb == 4.0
    assert reg.resolve("nvidia/parakeet-rnnt-1.1b").id == "parakeet-1.1b"
    assert reg.resolve("PARAKEET-0.6B").id == "parakeet-0.6b"
    tiny = reg.resolve("parakeet-tiny-en")
    assert tiny.path.endswith("registry/weights/parakeet-tiny-en.nemo") and tiny.supports_cpu
    assert tiny.streaming == "cache_aware" and p.streaming == "buffered"
    assert tiny.max_chunk_s == 8 and p.max_chunk_s is None


def test_unknown_model_lists_valid_ids():
    with pytest.raises(UnknownModelError) as err:
        load_registry().resolve("whisper-large")
    assert "parakeet-0.6b" in err.value.valid and "whisper-large" in str(err.value)


@pytest.mark.parametrize(
    "lang,ok",
    [("en", True), ("EN-gb", True), ("auto", True), ("", True), (None, True), ("fr", False), ("de-DE", False)],
)
def test_language_support(lang, ok):
    entry = load_registry().resolve("parakeet-0.6b")
    assert entry.supports_language(lang) is ok
    assert entry.language_error == "Model parakeet-0.6b only supports English"


def test_extra_file_overrides_and_resolves_relative_paths(tmp_path):
    from registry.catalog import BUILTIN_FILE

    extra = tmp_path / "extra.yaml"
    extra.write_text("""
aliases: {parakeet: my-model}
models:
  - id: my-model
    engine: parakeet
    source: {path: weights/mine.nemo}
    languages: [en, fr]
    streaming: none
""")
    reg = _read([BUILTIN_FILE, extra])
    mine = reg.resolve("parakeet")
    assert mine.id == "my-model" and mine.path == str(tmp_path / "weights" / "mine.nemo")
    assert mine.supports_language("fr") and not mine.word_timestamps


def test_invalid_streaming_mode_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [{id: x, engine: parakeet, source: {hub: a/b}, streaming: sometimes}]")
    with pytest.raises(ValueError, match="streaming"):
        _read([bad])


def test_timestamp_shift_is_read_and_validated(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        "models: [{id: x, engine: parakeet, source: {hub: a/b}, timestamp_shift_s: {start: -0.4, end: -0.1}}]"
    )
    assert _read([good]).resolve("x").timestamp_shift_s == (-0.4, -0.1)
    assert load_registry().resolve("parakeet-0.6b").timestamp_shift_s == (0.0, 0.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "models: [{id: x, engine: parakeet, source: {hub: a/b}, timestamp_shift_s: {start: 0.1, end: -0.3}}]"
    )
    with pytest.raises(ValueError, match="timestamp_shift_s"):
        _read([bad])


def test_family_entries_name_their_head_contexts_and_languages():
    reg = load_registry()
    v3 = reg.resolve("nvidia/parakeet-tdt-0.6b-v3")
    assert v3.id == "parakeet-tdt-0.6b-v3" and v3.decodes_with == "tdt" and len(v3.languages) == 25
    assert v3.supports_language("uk") and v3.supports_language("de-AT") and not v3.supports_language("ja")
    assert v3.language_error.startswith("Model parakeet-tdt-0.6b-v3 supports only: bg, hr")
    assert reg.resolve("nvidia/parakeet-ctc-1.1b").decodes_with == "ctc"
    assert reg.resolve("parakeet-tdt_ctc-110m").decodes_with == "tdt"
    assert reg.resolve("parakeet-tdt_ctc-110m-ctc").decodes_with == "ctc"
    multi = reg.resolve("nvidia/stt_en_fastconformer_hybrid_large_streaming_multi")
    assert multi.streaming == "cache_aware" and multi.chunk_ms == (1120, 560, 160, 80)
    assert multi.att_context_for_chunk(560) == (70, 6) and multi.att_context_for_chunk(200) is None
    nemotron = reg.resolve("nvidia/nemotron-speech-streaming-en-0.6b")
    assert sorted(nemotron.chunk_ms) == [80, 160, 560, 1120] and nemotron.punctuation
    eou = reg.resolve("nvidia/parakeet_realtime_eou_120m-v1")
    assert eou.eou_token == "<EOU>" and eou.endpointing == ("eou", "vad") and eou.chunk_ms == (160,)
    assert eou.to_dict()["att_context_sizes"] == [[70, 1]]


def test_model_parakeet_streams_on_a_cache_aware_model_and_batches_as_before():
    reg = load_registry()
    assert reg.resolve("parakeet").id == "parakeet-0.6b"
    streaming = reg.resolve("parakeet", streaming=True)
    assert streaming.id == "nemotron-speech-streaming-en-0.6b" and streaming.streaming == "cache_aware"
    assert reg.resolve("parakeet-tiny-en", streaming=True).id == "parakeet-tiny-en"


@pytest.mark.parametrize(
    "fields,match",
    [
        ("decoder: lstm", "decoder"),
        ("{decoder: ctc, head: ctc}", "head"),
        ("{head: both}", "head"),
        ("{att_context_sizes: [[70]]}", "att_context_sizes"),
        ("{endpointing: [eou]}", "endpointing"),
        ("{endpointing: [silence]}", "endpointing"),
    ],
)
def test_invalid_family_fields_are_refused(tmp_path, fields, match):
    bad = tmp_path / "bad.yaml"
    extra = fields.strip("{}")
    bad.write_text(f"models: [{{id: x, engine: parakeet, source: {{hub: a/b}}, {extra}}}]")
    with pytest.raises(ValueError, match=match):
        _read([bad])
