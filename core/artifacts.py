"""A job's files in the store (``jobs/<id>/<name>``); stages pass job ids, never audio, through the broker.

Readers get a local file: the store's own file on a local directory, else a copy downloaded into
this process's scratch directory (the stage wrapper removes it when the stage ends). Writers hand
a finished local file to :meth:`publish`, or small JSON to :meth:`write_json`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from core.storage import Storage, job_prefix

UPLOAD, AUDIO, TRANSCRIPT, TURNS = "upload", "audio.wav", "transcript.json", "turns.json"


class Artifacts:
    def __init__(self, storage: Storage, job_id: str, scratch: Path):
        self.storage = storage
        self.job_id = job_id
        self.scratch = Path(scratch)

    def key(self, name: str) -> str:
        return job_prefix(self.job_id) + name

    def fetch(self, name: str) -> Path:
        """A local file holding artifact ``name`` (read in place on a local store, else downloaded once)."""
        in_place = self.storage.local_path(self.key(name))
        if in_place is not None:
            return in_place
        copy = self.scratch / name
        if not copy.exists():
            self.scratch.mkdir(parents=True, exist_ok=True)
            partial = copy.with_name(f".{name}.part")
            self.storage.get_file(self.key(name), partial)
            partial.replace(copy)
        return copy

    def workfile(self, name: str) -> Path:
        """A fresh scratch path to build artifact ``name`` in before :meth:`publish`."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch / f".{uuid.uuid4().hex[:8]}.{name}"  # keeps the extension

    def publish(self, name: str, path: Path) -> None:
        """Store the local file ``path`` as artifact ``name`` (the file is consumed)."""
        self.storage.put_file(self.key(name), path)

    def exists(self, name: str) -> bool:
        return self.storage.exists(self.key(name))

    def delete(self, name: str) -> None:
        self.storage.delete(self.key(name))

    def write_json(self, name: str, data: Any) -> None:
        self.storage.put_bytes(self.key(name), json.dumps(data).encode())

    def read_json(self, name: str) -> Any:
        return json.loads(self.storage.get_bytes(self.key(name)))

    def remove(self) -> int:
        """Delete every object of the job; return how many there were."""
        return self.storage.delete_prefix(job_prefix(self.job_id))
