"""The local store's contract (the S3 store passes the same operations in tests/integration/test_storage_s3.py)
and what clients are told when a stage fails."""

from __future__ import annotations

import os
import time

import pytest

from core.settings import Settings
from core.storage import ObjectMissing, StorageError, job_prefix, open_storage, scratch_root
from core.storage.local import LocalStorage


def test_storage_url_chooses_the_backend(tmp_path):
    assert isinstance(open_storage(Settings(data_dir=tmp_path)), LocalStorage)
    assert open_storage(Settings(data_dir=tmp_path)).local_path("jobs/a/x") == tmp_path / "jobs/a/x"
    chosen = open_storage(Settings(storage_url=f"file://{tmp_path}/elsewhere"))
    assert chosen.local_path("jobs/a/x") == tmp_path / "elsewhere/jobs/a/x"
    s3 = open_storage(Settings(storage_url="s3://bucket/some/prefix", aws_endpoint_url="http://127.0.0.1:9"))
    assert s3.description == "s3://bucket/some/prefix/" and s3.local_path("jobs/a/x") is None
    with pytest.raises(ValueError, match="file:///path or s3://bucket/prefix"):
        open_storage(Settings(storage_url="ftp://host/x"))
    assert scratch_root(Settings(data_dir=tmp_path)) == tmp_path / "scratch"


def test_audio_url_never_reads_budgies_own_job_files():
    from core.storage import is_internal_object

    s3 = Settings(storage_url="s3://store/deploy")
    assert is_internal_object(s3, "store", "deploy/jobs/job_1/audio.wav")
    assert not is_internal_object(s3, "store", "incoming/talk.wav")
    assert not is_internal_object(s3, "other", "deploy/jobs/job_1/audio.wav")
    assert is_internal_object(Settings(storage_url="s3://store"), "store", "jobs/job_1/upload")
    assert not is_internal_object(Settings(), "store", "jobs/job_1/upload")


def test_local_store_round_trips_moves_and_deletes(tmp_path):
    store = LocalStorage(tmp_path / "root")
    source = tmp_path / "upload.bin"
    source.write_bytes(b"x" * 1000)
    store.put_file("jobs/job_1/upload", source)
    assert not source.exists(), "put_file consumes the local file"
    store.get_file("jobs/job_1/upload", tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == b"x" * 1000
    store.put_bytes("jobs/job_1/transcript.json", b"{}")
    assert store.get_bytes("jobs/job_1/transcript.json") == b"{}" and store.exists("jobs/job_1/transcript.json")
    assert [name for name, _ in store.job_ids()] == ["job_1"]
    with pytest.raises(ObjectMissing):
        store.get_bytes("jobs/job_1/turns.json")
    with pytest.raises(StorageError):
        store.get_bytes("jobs/../../etc/passwd")
    assert store.delete_prefix(job_prefix("job_1")) == 2
    assert not store.exists("jobs/job_1/upload") and list(store.job_ids()) == []


def test_job_ids_report_the_newest_file_time(tmp_path):
    store = LocalStorage(tmp_path)
    store.put_bytes("jobs/old/a", b"1")
    past = time.time() - 3600
    os.utime(tmp_path / "jobs/old/a", (past, past))
    os.utime(tmp_path / "jobs/old", (past, past))
    ((name, newest),) = store.job_ids()
    assert name == "old" and abs(newest - past) < 2


def test_stage_errors_shown_to_clients_carry_a_code_and_no_internals():
    from workers.stage import StageError, user_error

    message, code = user_error("prepare", FileNotFoundError(2, "No such file", "/srv/budgie/jobs/job_1/upload"))
    assert code == "internal_error"
    assert "FileNotFoundError" not in message and "/srv" not in message and message.startswith("prepare: ")

    message, code = user_error("diarize", StageError("cannot load /opt/models/pyannote/config.yaml: bad", "x_code"))
    assert code == "x_code" and "/opt" not in message and "cannot load <file>: bad" in message

    url = "http://example.com/a/b.wav"
    message, _ = user_error("prepare", StageError(f"audio_url {url}: the server answered HTTP 404"))
    assert url in message, "URLs the caller sent are kept whole"

    message, code = user_error("transcribe", StorageError("could not read jobs/job_1/audio.wav: NoSuchBucket"))
    assert code == "storage_error" and "StorageError" not in message
