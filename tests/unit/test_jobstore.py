import pytest

from core.jobstore import JobStore


@pytest.fixture()
def store(redis_client):
    s = JobStore(redis_client, prefix="budgie-test-unit", ttl_s=60)
    yield s
    for key in redis_client.scan_iter("budgie-test-unit:*"):
        redis_client.delete(key)


def test_terminal_states_are_final(store):
    store.create("job_a", {"model": "m"}, ["prepare", "merge"])
    assert store.transition("job_a", "running")
    assert store.transition("job_a", "cancelled")
    assert not store.transition("job_a", "completed"), "a late stage must not reopen a cancelled job"
    assert store.get("job_a")["status"] == "cancelled"


def test_stages_are_recorded_independently(store):
    store.create("job_b", {}, ["transcribe", "diarize"])
    store.update_stage("job_b", "transcribe", status="running")
    store.update_stage("job_b", "diarize", status="completed", duration_ms=5)
    stages = {s["stage"]: s for s in store.get("job_b")["stages"]}
    assert stages["transcribe"]["status"] == "running" and stages["diarize"]["duration_ms"] == 5


def test_list_skips_expired_and_filters(store, redis_client):
    for i in range(5):
        store.create(f"job_{i}", {}, ["merge"])
    redis_client.delete("budgie-test-unit:job:job_3")
    store.transition("job_1", "failed")
    jobs, more = store.list(limit=10)
    assert [j["id"] for j in jobs] == ["job_4", "job_2", "job_1", "job_0"] and not more
    failed, _ = store.list(limit=10, status="failed")
    assert [j["id"] for j in failed] == ["job_1"]


def test_started_at_is_written_once(store):
    import time

    store.create("job_s", {}, ["transcribe", "diarize"])
    store.mark_started("job_s")
    first = store.get("job_s")["started_at"]
    time.sleep(0.01)
    store.mark_started("job_s")
    assert store.get("job_s")["started_at"] == first
