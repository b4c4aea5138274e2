"""docker compose cannot run here (no Docker engine); check the file's wiring against the code instead."""

import re
from pathlib import Path

import yaml

from core.catalog import registry
from core.queue import STAGE_QUEUES, model_from_queue

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def celery_queues(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd[cmd.index("-Q") + 1].split(",") if "-Q" in cmd else []


def test_redis_keeps_an_append_only_file():
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert SERVICES["redis"]["command"][SERVICES["redis"]["command"].index("--appendonly") + 1] == "yes"


def test_every_stage_queue_has_a_consumer_and_gpu_workers_are_solo_and_pinned():
    consumed = {q for s in SERVICES.values() for q in celery_queues(s)}
    assert set(STAGE_QUEUES.values()) <= consumed
    for name, service in SERVICES.items():
        queues = celery_queues(service)
        if any(q.startswith("transcribe.") or q == "diarize" for q in queues):
            cmd = service["command"]
            assert cmd[cmd.index("--pool") + 1] == "solo" and cmd[cmd.index("--concurrency") + 1] == "1", name
            devices = service["deploy"]["resources"]["reservations"]["devices"][0]
            assert devices["capabilities"] == ["gpu"] and devices["count"] == 1, name
            assert service["environment"]["CUDA_VISIBLE_DEVICES"] == "0", name


def test_transcribe_queues_name_registry_models_with_weights_baked_in():
    for service in SERVICES.values():
        for queue in celery_queues(service):
            if model := model_from_queue(queue):
                entry = registry().resolve(model)
                assert entry.id == model
                assert service["build"]["args"]["BUDGIE_PRELOAD"] == model


def objectstore(service: dict) -> bool:
    return "objectstore" in service.get("profiles", [])


def test_services_share_redis_and_storage_and_use_real_dockerfile_targets():
    targets = set(re.findall(r"^FROM .* AS (\w+)$", (ROOT / "Dockerfile").read_text(), re.M))
    for name, service in SERVICES.items():
        if name == "redis" or objectstore(service) or "observability" in service.get("profiles", []):
            continue
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
        assert service["build"]["target"] in targets, name
        if name not in ("flower", "realtime-parakeet-1"):
            assert "budgie-data:/data" in service["volumes"], name
    assert SERVICES["realtime-parakeet-1"]["environment"]["MAX_SESSIONS"] == "4"


def test_objectstore_profile_shares_no_volume_and_points_every_process_at_minio():
    budgie = {n: s for n, s in SERVICES.items() if objectstore(s) and "build" in s}
    assert {"api-s3", "worker-cpu-s3", "engine-parakeet-s3", "engine-diarize-s3"} <= set(budgie)
    assert set(STAGE_QUEUES.values()) <= {q for s in budgie.values() for q in celery_queues(s)}
    for name, service in budgie.items():
        env = service["environment"]
        assert not service.get("volumes"), f"{name} must not share a volume"
        assert env["BUDGIE_STORAGE_URL"].startswith("s3://") and env["AWS_ENDPOINT_URL"] == "http://minio:9000", name
        assert env["REDIS_URL"] == "redis://redis:6379/1", name  # never the volume stack's queues
        assert service["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully", name
    assert "objectstore" in SERVICES["minio"]["profiles"]


def test_every_budgie_variable_in_compose_is_a_setting():
    from core.settings import environment_names

    known = environment_names()
    for name, service in SERVICES.items():
        for var in service.get("environment") or {}:
            if var.startswith(("BUDGIE_", "WORKER_", "AWS_")) or var in ("REDIS_URL", "MAX_SESSIONS", "HF_TOKEN"):
                assert var in known, f"{name}: {var} is not read by core.settings"
    assert SERVICES["realtime-parakeet-1"]["command"] == ["budgie-stream-worker"]


def test_the_webhook_queue_has_a_consumer():
    from core.queue import WEBHOOK_QUEUE

    assert WEBHOOK_QUEUE in {q for s in SERVICES.values() for q in celery_queues(s)}


def test_flower_is_not_published_and_needs_basic_auth():
    flower = SERVICES["flower"]
    assert flower["profiles"] == ["ops"]  # not started by a plain `docker compose up`
    assert all(str(p).startswith("127.0.0.1:") for p in flower.get("ports", []))
    script = flower["command"][-1]
    assert 'test -n "$$FLOWER_BASIC_AUTH" ||' in script and script.index("exit 1") < script.index("exec celery")
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    assert SERVICES["api"]["environment"]["BUDGIE_ADMIN_KEY"] == "${BUDGIE_ADMIN_KEY:-}"
