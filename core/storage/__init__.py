"""Where uploads and stage artifacts live: a local directory or an S3-compatible object store.

One setting chooses the backend (``BUDGIE_STORAGE_URL``): ``file:///srv/budgie`` or unset (the data
directory, one machine or a shared volume), ``s3://bucket/prefix`` (AWS S3, MinIO, Ceph RGW: no shared
disk between the API and the workers). Keys are ``/``-separated and start with ``jobs/<id>/`` so a
bucket lifecycle rule can expire them. Every transfer streams: nothing holds a whole file in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from core.settings import Settings


class StorageError(RuntimeError):
    """The store refused or failed an operation; the message is safe to show (no local paths)."""


class ObjectMissing(StorageError):
    """The key does not exist."""


class Storage(Protocol):
    """What the API and the stages need from a store of files addressed by key."""

    description: str
    """The store in a form fit for logs (``file:///...`` or ``s3://bucket/prefix``)."""

    def put_file(self, key: str, path: Path) -> None:
        """Store the local file at ``path`` under ``key``; the file is consumed (moved or uploaded, then removed)."""

    def get_file(self, key: str, path: Path) -> None:
        """Write the object ``key`` to the local file ``path`` (raises :class:`ObjectMissing`)."""

    def local_path(self, key: str) -> Path | None:
        """The object's own file when the store is a local directory (read in place), else ``None``."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (JSON artifacts) atomically: readers never see half of it."""

    def get_bytes(self, key: str) -> bytes:
        """A small object's content (raises :class:`ObjectMissing`)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove one object (missing is fine)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix`` (``jobs/<id>/``); return how many."""

    def job_ids(self) -> Iterator[tuple[str, float]]:
        """Every job that has objects, with the newest object's modification time (for the sweep)."""

    def download_external(self, bucket: str, key: str, path: Path, max_bytes: int) -> None:
        """Download an object a caller named by ``s3://bucket/key`` (``audio_url``) with a size limit.

        Only the S3 backend, with its own credentials; raises :class:`StorageError` with a reason."""


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def open_storage(settings: Settings) -> Storage:
    """The store ``settings`` name; built per call (cheap), so tests can switch backends."""
    url = settings.storage_url.strip()
    if not url:
        from core.storage.local import LocalStorage

        return LocalStorage(settings.data_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        from core.storage.local import LocalStorage

        return LocalStorage(Path(parts.path))
    if parts.scheme == "s3":
        from core.storage.s3 import S3Storage

        if not parts.netloc:
            raise ValueError(f"BUDGIE_STORAGE_URL {url!r} names no bucket")
        return S3Storage(parts.netloc, parts.path.strip("/"), settings)
    raise ValueError(f"BUDGIE_STORAGE_URL must be file:///path or s3://bucket/prefix, not {url!r}")


def is_internal_object(settings: Settings, bucket: str, key: str) -> bool:
    """Whether ``s3://bucket/key`` is one of Budgie's own job files: ``audio_url`` never reads those (they
    may be another tenant's audio, and the service's credentials could read them)."""
    parts = urlsplit(settings.storage_url.strip())
    if parts.scheme != "s3" or parts.netloc != bucket:
        return False
    prefix = parts.path.strip("/")
    return key.startswith(f"{prefix}/jobs/" if prefix else "jobs/")


def scratch_root(settings: Settings) -> Path:
    """Where a process keeps local copies while it works on them (under the data dir by default,
    so a local store publishes by rename)."""
    return settings.scratch_dir or (Path(settings.data_dir) / "scratch")
