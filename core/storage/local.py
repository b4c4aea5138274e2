"""The local-directory store: ``<root>/jobs/<id>/<name>``, the layout Budgie has always used."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.storage import ObjectMissing, StorageError


class LocalStorage:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.description = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid storage key {key!r}")
        return self.root / key

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        if Path(path) == target:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)  # a rename when the scratch dir is on the same filesystem

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.exists():
            raise ObjectMissing(key)
        shutil.copyfile(source, path)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)  # readers never see half a file

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        directory = self._path(prefix.rstrip("/"))
        count = sum(1 for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else 0
        shutil.rmtree(directory, ignore_errors=True)
        return count

    def job_ids(self) -> Iterator[tuple[str, float]]:
        jobs = self.root / "jobs"
        if not jobs.is_dir():
            return
        for directory in jobs.iterdir():
            if not directory.is_dir():
                continue
            try:
                times = [directory.stat().st_mtime] + [p.stat().st_mtime for p in directory.iterdir()]
            except FileNotFoundError:  # removed while we looked
                continue
            yield directory.name, max(times)

    def download_external(self, bucket: str, key: str, path: Path, max_bytes: int) -> None:
        raise StorageError("s3:// audio URLs need the S3 storage backend (BUDGIE_STORAGE_URL=s3://...)")
