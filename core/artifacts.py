"""Where a job's files live on shared storage; stages pass job ids, never audio, through the broker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


class Artifacts:
    def __init__(self, data_dir: Path, job_id: str):
        self.dir = Path(data_dir) / "jobs" / job_id

    @property
    def upload(self) -> Path:
        return self.dir / "upload"

    @property
    def audio(self) -> Path:
        return self.dir / "audio.wav"

    @property
    def transcript(self) -> Path:
        return self.dir / "transcript.json"

    @property
    def turns(self) -> Path:
        return self.dir / "turns.json"

    def write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)  # readers never see half a file

    @staticmethod
    def read_json(path: Path) -> Any:
        return json.loads(path.read_text())

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
