"""Where a registry entry's weights are on this host: its local ``.nemo`` file, or the file NeMo's
``from_pretrained`` keeps in the Hugging Face hub cache (``models--org--name/snapshots/<rev>/name.nemo``).

Read by ``GET /v1/models`` (``state: missing`` until the weights are here) and ``budgie models pull``;
no network access and no NeMo import, so the API can ask.
"""

from __future__ import annotations

from pathlib import Path

from registry import ModelEntry


def hub_filename(hub: str) -> str:
    """The file NeMo downloads for a hub id: the repository's ``<name>.nemo``."""
    return hub.rstrip("/").rsplit("/", 1)[-1] + ".nemo"


def hub_repo_dir(hub: str, cache_dir: Path) -> Path:
    return cache_dir / ("models--" + hub.strip("/").replace("/", "--"))


def cached_weights(entry: ModelEntry, cache_dir: Path) -> Path | None:
    """The weights file of ``entry`` on this host, or None when they would have to be downloaded."""
    if entry.path:
        path = Path(entry.path)
        return path if path.is_file() else None
    if not entry.hub:
        return None
    repo = hub_repo_dir(entry.hub, cache_dir)
    name = hub_filename(entry.hub)
    ref = repo / "refs" / "main"
    if ref.is_file():  # the revision from_pretrained resolves first
        pinned = repo / "snapshots" / ref.read_text().strip() / name
        if pinned.is_file():
            return pinned
    found = sorted((repo / "snapshots").glob(f"*/{name}"))
    return found[0] if found else None
