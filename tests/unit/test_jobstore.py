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


def test_writes_to_a_deleted_job_do_not_resurrect_it(store, redis_client):
    """A stage that outlives its job's deletion must not write a partial record (which used to 500 forever)."""
    store.create("job_gone", {}, ["transcribe", "merge"])
    store.delete("job_gone")
    assert not store.update_stage("job_gone", "transcribe", status="completed", duration_ms=3)
    assert not store.set_fields("job_gone", result={"text": "late"})
    assert not store.mark_started("job_gone")
    assert not store.transition("job_gone", "completed")
    assert not redis_client.exists("budgie-test-unit:job:job_gone")
    assert store.get("job_gone") is None


def test_every_write_renews_the_ttl(store, redis_client):
    store.create("job_ttl", {}, ["transcribe"])
    key = "budgie-test-unit:job:job_ttl"
    redis_client.expire(key, 5)  # as if the job were about to expire while its stage still runs
    assert store.update_stage("job_ttl", "transcribe", status="running", chunks_done=1)
    assert 55 <= redis_client.ttl(key) <= 60, "a running stage extends the job's life"
    redis_client.expire(key, 5)
    assert store.transition("job_ttl", "completed")
    assert redis_client.ttl(key) > 5


@pytest.mark.parametrize(
    "damage",
    [
        {"stages": "not json"},  # unparseable field
        {"created_at": "yesterday"},  # wrong type
        None,  # a record with only a stage field, as a late writer used to leave behind
    ],
)
def test_a_damaged_record_reads_as_missing_and_is_removed(store, redis_client, damage):
    key = "budgie-test-unit:job:job_bad"
    if damage is None:
        redis_client.hset(key, "stage:transcribe", '{"status": "completed"}')
    else:
        store.create("job_bad", {}, ["merge"])
        redis_client.hset(key, mapping=damage)
    assert store.get("job_bad") is None
    assert not redis_client.exists(key)
