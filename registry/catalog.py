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
DECODERS = ("rnnt", "tdt", "ctc")  # the model's main head: RNN-T, token-and-duration transducer, or CTC
HEADS = ("transducer", "ctc")  # the head served, for hybrid transducer+CTC checkpoints
ENDPOINTERS = ("eou", "vad")  # what may end a streaming utterance: the model's <EOU> token, Silero VAD
FRAME_MS = 80  # FastConformer encoder frame: 10 ms hop x 8x subsampling


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
    # -- the family: which head decodes, how it streams ---------------------------------------
    decoder: str = "rnnt"  # the checkpoint's main head (rnnt | tdt | ctc)
    head: str | None = None  # hybrid transducer+CTC checkpoints: the head served (transducer | ctc)
    # cache-aware models: the [left, right] attention contexts the encoder was trained with (first = default)
    att_context_sizes: tuple[tuple[int, int], ...] = ()
    eou_token: str | None = None  # the piece the model emits at the end of an utterance (e.g. <EOU>)
    endpointing: tuple[str, ...] = ("vad",)  # what ends a streaming utterance (eou and/or vad)
    punctuation: bool = False  # the model writes punctuation and capitals itself (passed through untouched)

    @property
    def decodes_with(self) -> str:
        """The decoder Budgie runs: ``ctc`` for CTC models and hybrids served on their CTC head, else
        the transducer kind (``rnnt`` or ``tdt``)."""
        return "ctc" if self.head == "ctc" else self.decoder

    @property
    def chunk_ms(self) -> tuple[int, ...]:
        """Streaming chunk per trained context: (right + 1) encoder frames (chunked_limited attention)."""
        return tuple((right + 1) * FRAME_MS for _, right in self.att_context_sizes)

    def att_context_for_chunk(self, chunk_ms: int) -> tuple[int, int] | None:
        """The trained context whose chunk is ``chunk_ms`` (None if the model has none)."""
        for ctx, ms in zip(self.att_context_sizes, self.chunk_ms, strict=True):
            if ms == chunk_ms:
                return ctx
        return None

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
        data["att_context_sizes"] = [list(c) for c in self.att_context_sizes]
        data["endpointing"] = list(self.endpointing)
        data["decodes_with"] = self.decodes_with
        data["chunk_ms"] = list(self.chunk_ms)
        return data


class Registry:
    """An immutable catalogue of :class:`ModelEntry` keyed by id, with alias resolution."""

    def __init__(
        self, entries: list[ModelEntry], aliases: dict[str, str], streaming_aliases: dict[str, str] | None = None
    ):
        self._entries = {e.id: e for e in entries}
        self._aliases = {k.lower(): v for k, v in aliases.items()}
        # only aliases whose target is registered: a name falls back to its batch meaning otherwise
        self._streaming = {k.lower(): v for k, v in (streaming_aliases or {}).items() if v in self._entries}

    def resolve(self, model_id: str, *, streaming: bool = False) -> ModelEntry:
        """Return the entry for an id or alias (case-insensitive) or raise UnknownModelError.

        ``streaming``: resolve as the streaming endpoint does (``streaming_aliases`` first).
        """
        key = (model_id or "").strip()
        target = (self._streaming if streaming else {}).get(key.lower()) or self._aliases.get(key.lower(), key)
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
        **_family(raw, streaming),
    )


def _family(raw: dict[str, Any], streaming: str) -> dict[str, Any]:
    """The decoder, head, trained attention contexts and endpointing of one entry, validated."""
    name = raw["id"]
    decoder = raw.get("decoder", "rnnt")
    if decoder not in DECODERS:
        raise ValueError(f"model {name}: decoder must be one of {DECODERS}")
    head = raw.get("head")
    if head is not None and (head not in HEADS or decoder == "ctc"):
        raise ValueError(f"model {name}: head ({HEADS}) is for hybrid rnnt/tdt+ctc checkpoints only")
    contexts = tuple(tuple(int(v) for v in c) for c in raw.get("att_context_sizes") or ())
    if any(len(c) != 2 or c[0] < 0 or c[1] < 0 for c in contexts):
        raise ValueError(f"model {name}: att_context_sizes is a list of [left, right] frame counts")
    eou = raw.get("eou_token")
    endpointing = tuple(raw.get("endpointing") or (("eou", "vad") if eou else ("vad",)))
    if not endpointing or set(endpointing) - set(ENDPOINTERS) or ("eou" in endpointing and not eou):
        raise ValueError(f"model {name}: endpointing is a list of {ENDPOINTERS} ('eou' needs eou_token)")
    return {
        "decoder": decoder,
        "head": head,
        "att_context_sizes": contexts,
        "eou_token": eou,
        "endpointing": endpointing,
        "punctuation": bool(raw.get("punctuation", False)),
    }


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
    streaming_aliases: dict[str, str] = {}
    for file in files:
        data = yaml.safe_load(file.read_text()) or {}
        aliases.update(data.get("aliases") or {})
        streaming_aliases.update(data.get("streaming_aliases") or {})
        raws.extend((raw, file.parent) for raw in data.get("models") or [])
    entries = {raw["id"]: _entry(raw, base, aliases) for raw, base in raws}  # later files override
    return Registry(list(entries.values()), aliases, streaming_aliases)


@lru_cache(maxsize=8)
def _cached(extra: str) -> Registry:
    files = [BUILTIN_FILE] + [Path(p) for p in extra.split(os.pathsep) if p]
    return _read(files)


def load_registry(extra_files: str = "") -> Registry:
    """Return the registry: the built-in YAML plus ``extra_files`` (``os.pathsep``-separated YAML files).

    Services call ``core.catalog.registry()``, which passes the configured ``BUDGIE_REGISTRY_FILES``.
    """
    return _cached(extra_files)
