"""Fetch registry models' weights ahead of time: into the hub cache the workers load from, or into a
directory as a ``.nemo`` an air-gapped host serves through ``source.path``.

The download is NeMo's own route (``huggingface_hub.hf_hub_download`` of the repository's
``<name>.nemo``, the file ``ASRModel.from_pretrained`` looks for), so a pulled model loads without
the network. Every file is checked against the hub's SHA-256 (the LFS object id) when the hub
reports one, and its SHA-256 is printed for the registry's ``source.sha256``.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from core.weights import cached_weights, hub_filename
from registry import ModelEntry


class PullError(RuntimeError):
    """The weights could not be fetched or did not check out."""


@dataclass
class Pulled:
    entry: ModelEntry
    path: Path  # the file in the cache, or the copy written to --to
    sha256: str
    downloaded: bool


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pull_weights(entry: ModelEntry, settings: Settings, to: Path | None = None) -> Pulled:
    """Make ``entry``'s weights local (downloading them if needed); with ``to``, copy them there."""
    path = cached_weights(entry, settings.hub_cache_dir)
    downloaded = False
    expected = entry.sha256
    if path is None and entry.path:
        raise PullError(f"Model {entry.id}: its weights file {entry.path} does not exist")
    if path is None:
        assert entry.hub is not None
        path, downloaded = _download(entry.hub, settings), True
        expected = _hub_sha256(entry.hub, settings)
    digest = sha256_of(path)
    if expected and digest != expected.lower():
        raise PullError(f"Model {entry.id}: {path} has sha256 {digest}, expected {expected}; delete it and pull again")
    if to is not None:
        to.mkdir(parents=True, exist_ok=True)
        target = to / f"{entry.id}.nemo"
        if target.resolve() != path.resolve():
            tmp = target.with_suffix(".nemo.part")
            shutil.copyfile(path, tmp)
            tmp.replace(target)
        if sha256_of(target) != digest:
            raise PullError(f"Model {entry.id}: the copy {target} does not match {path}")
        path = target
    return Pulled(entry, path, digest, downloaded)


def _download(hub: str, settings: Settings) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(
                repo_id=hub,
                filename=hub_filename(hub),
                cache_dir=str(settings.hub_cache_dir),
                token=settings.hf_token,
                library_name="budgie",
            )
        )
    except Exception as exc:  # network, auth, offline mode and missing-file errors all surface here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PullError(
            f"could not download {hub}/{hub_filename(hub)} from the hub ({type(exc).__name__}: {reason}); "
            f"check the network, HF_TOKEN and that HF_HUB_OFFLINE is not set"
        ) from exc


def _hub_sha256(hub: str, settings: Settings) -> str | None:
    """The hub's SHA-256 of the file (its LFS object id), if it reports one."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(hub, hub_filename(hub)), token=settings.hf_token)
    except Exception:  # the file is here already; a metadata hiccup must not fail the pull
        return None
    etag = (meta.etag or "").strip('"')
    return etag if len(etag) == 64 else None


def registry_snippet(pulled: Pulled) -> str:
    """The ``source`` line that serves the pulled file on a host without the network."""
    return f"source: {{path: {pulled.path}, sha256: {pulled.sha256}}}"
