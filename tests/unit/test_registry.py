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
