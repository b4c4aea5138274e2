"""The sweep removes stored files whose job record is gone (local backend here; the S3 backend, run by a
real worker's sweeper thread, in test_storage_s3.py), and only one process sweeps per interval."""

from __future__ import annotations

import os
import time


def test_sweep_removes_orphans_only(redis_client, tmp_path):
    from core import jobstore
    from core.storage.local import LocalStorage
    from tests.conftest import test_settings as settings_with
    from workers.housekeeping import sweep

    settings = settings_with(data_dir=tmp_path, sweep_grace_s=60)
    store = LocalStorage(tmp_path)
    jobs = jobstore.JobStore.from_url(settings.redis_url, settings.key_prefix, settings.job_ttl_s)
    live, expired, fresh = (jobstore.new_job_id() for _ in range(3))
    jobs.create(live, {"model": "x"}, ["prepare"])
    for job_id in (live, expired, fresh):
        store.put_bytes(f"jobs/{job_id}/audio.wav", b"RIFF")
        store.put_bytes(f"jobs/{job_id}/transcript.json", b"{}")
    old = time.time() - 3600
    for job_id in (live, expired):
        for path in [tmp_path / "jobs" / job_id, *(tmp_path / "jobs" / job_id).iterdir()]:
            os.utime(path, (old, old))

    result = sweep(settings)
    assert (result.jobs_removed, result.objects_removed, result.jobs_seen) == (1, 2, 3)
    assert not (tmp_path / "jobs" / expired).exists(), "an expired job's files are removed"
    assert (tmp_path / "jobs" / live / "audio.wav").exists(), "a job with a record keeps its files"
    assert (tmp_path / "jobs" / fresh / "audio.wav").exists(), "files younger than the grace period stay"


def test_one_sweeper_per_interval(redis_client, tmp_path):
    from tests.conftest import test_settings as settings_with
    from workers.housekeeping import sweep_if_due

    settings = settings_with(data_dir=tmp_path, sweep_interval_s=30)
    redis_client.delete("budgie-test:housekeeping:sweep")
    assert sweep_if_due(settings) is not None
    assert sweep_if_due(settings) is None, "a second process in the same interval skips"
    assert 0 < redis_client.pttl("budgie-test:housekeeping:sweep") <= 30_000
    redis_client.delete("budgie-test:housekeeping:sweep")


def test_stale_scratch_of_a_killed_stage_is_removed(tmp_path):
    from tests.conftest import test_settings as settings_with
    from workers.housekeeping import sweep_scratch

    settings = settings_with(data_dir=tmp_path, task_time_limit_s=600, sweep_grace_s=60)
    scratch = tmp_path / "scratch"
    stale, running = scratch / "job_a.prepare.x1", scratch / "job_b.transcribe.x2"
    stale_upload = scratch / "api" / "upload-0123"
    for directory in (stale, running, stale_upload.parent):
        directory.mkdir(parents=True)
    (stale / "upload").write_bytes(b"x")
    stale_upload.write_bytes(b"x")
    old = time.time() - 700
    for path in (stale, stale_upload):
        os.utime(path, (old, old))

    assert sweep_scratch(settings) == 2
    assert not stale.exists() and not stale_upload.exists()
    assert running.exists(), "a stage younger than the task time limit may still be running"
