"""Load the registry YAML into immutable :class:`ModelEntry` records and resolve ids/aliases."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

BUILTIN_FILE = Path(__file__).with_name("models.yaml")
STREAMING_MODES = ("cache_aware", "buffered", "none")


class UnknownModelError(LookupError):
    """Raised for a model id or alias the registry does not know."""

    def __init__(self, requested: str, valid: list[str]):
        self.requested = requested
        self.valid = valid
        super().__init__(f"Unknown model '{requested}'. Valid models: {', '.join(valid)}")


@dataclass(frozen=True)
class ModelEntry:
    """One servable model; ``hub`` or ``path`` says where its weights come from."""

    id: str
    name: str
    engine: str
    engine_model: str
    tier: str
    languages: tuple[str, ...]
    streaming: str
    vram_gb: float
    word_timestamps: bool
    supports_cpu: bool
    hub: str | None = None
    path: str | None = None
    sha256: str | None = None  # of the local ``path`` file, checked at load when set
    aliases: tuple[str, ...] = field(default=())
    max_chunk_s: float | None = None  # longest audio decoded in one pass (None: the worker default)
    # Seconds added to every word's (start, end): RNNT emits a word only once it has heard it, so its
    # native times run late by a model-specific, measured amount (bench/model_wer.py --calibrate).
    timestamp_shift_s: tuple[float, float] = (0.0, 0.0)

    @property
    def english_only(self) -> bool:
        return self.languages == ("en",)

    def supports_language(self, language: str | None) -> bool:
        """True for auto/empty, or a language the model lists (region tags like en-US count)."""
        if not language or language == "auto":
            return True
        return language.lower().split("-")[0] in self.languages

    @property
    def language_error(self) -> str:
        if self.english_only:
            return f"Model {self.id} only supports English"
        return f"Model {self.id} supports only: {', '.join(self.languages)}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["languages"] = list(self.languages)
        data["aliases"] = list(self.aliases)
        data["timestamp_shift_s"] = {"start": self.timestamp_shift_s[0], "end": self.timestamp_shift_s[1]}
        return data


class Registry:
    """An immutable catalogue of :class:`ModelEntry` keyed by id, with alias resolution."""

    def __init__(self, entries: list[ModelEntry], aliases: dict[str, str]):
        self._entries = {e.id: e for e in entries}
        self._aliases = {k.lower(): v for k, v in aliases.items()}

    def resolve(self, model_id: str) -> ModelEntry:
        """Return the entry for an id or alias (case-insensitive) or raise UnknownModelError."""
        key = (model_id or "").strip()
        target = self._aliases.get(key.lower(), key)
        for candidate in (target, target.lower()):
            if candidate in self._entries:
                return self._entries[candidate]
        raise UnknownModelError(model_id, sorted(self._entries))

    def all(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def ids(self) -> list[str]:
        return sorted(self._entries)


def _entry(raw: dict[str, Any], base_dir: Path, aliases: dict[str, str]) -> ModelEntry:
    source = raw.get("source") or {}
    path = source.get("path")
    if path and not os.path.isabs(path):
        path = str((base_dir / path).resolve())
    streaming = raw.get("streaming", "none")
    if streaming not in STREAMING_MODES:
        raise ValueError(f"model {raw['id']}: streaming must be one of {STREAMING_MODES}")
    if not (source.get("hub") or path):
        raise ValueError(f"model {raw['id']}: source needs hub or path")
    return ModelEntry(
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        engine=raw["engine"],
        engine_model=raw.get("engine_model", source.get("hub") or raw["id"]),
        tier=raw.get("tier", "custom"),
        languages=tuple(raw.get("languages") or ("en",)),
        streaming=streaming,
        vram_gb=float(raw.get("vram_gb", 0.0)),
        word_timestamps=bool(raw.get("word_timestamps", False)),
        supports_cpu=bool(raw.get("supports_cpu", False)),
        hub=source.get("hub"),
        path=path,
        sha256=source.get("sha256"),
        aliases=tuple(sorted(a for a, target in aliases.items() if target == raw["id"])),
        max_chunk_s=float(raw["max_chunk_s"]) if raw.get("max_chunk_s") else None,
        timestamp_shift_s=_timestamp_shift(raw),
    )


def _timestamp_shift(raw: dict[str, Any]) -> tuple[float, float]:
    shift = raw.get("timestamp_shift_s") or {}
    if not isinstance(shift, dict) or set(shift) - {"start", "end"}:
        raise ValueError(f"model {raw['id']}: timestamp_shift_s must be a mapping with 'start' and/or 'end'")
    start, end = float(shift.get("start", 0.0)), float(shift.get("end", 0.0))
    if end < start:
        raise ValueError(f"model {raw['id']}: timestamp_shift_s.end must not be below .start (words would invert)")
    return start, end


def _read(files: list[Path]) -> Registry:
    raws: list[tuple[dict[str, Any], Path]] = []
    aliases: dict[str, str] = {}
    for file in files:
        data = yaml.safe_load(file.read_text()) or {}
        aliases.update(data.get("aliases") or {})
        raws.extend((raw, file.parent) for raw in data.get("models") or [])
    entries = {raw["id"]: _entry(raw, base, aliases) for raw, base in raws}  # later files override
    return Registry(list(entries.values()), aliases)


@lru_cache(maxsize=8)
def _cached(extra: str) -> Registry:
    files = [BUILTIN_FILE] + [Path(p) for p in extra.split(os.pathsep) if p]
    return _read(files)


def load_registry(extra_files: str = "") -> Registry:
    """Return the registry: the built-in YAML plus ``extra_files`` (``os.pathsep``-separated YAML files).

    Services call ``core.catalog.registry()``, which passes the configured ``BUDGIE_REGISTRY_FILES``.
    """
    return _cached(extra_files)
