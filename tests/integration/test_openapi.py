"""The OpenAPI spec: every HTTP route is in it, /docs serves a working page offline, and a property-based
fuzzer (schemathesis) drives the live app from the spec and finds no 5xx and no response that contradicts it."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.conftest import SHIPPED_MODEL, wait_for
from tests.live import serve

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def base_url(redis_client):
    with serve(default_model=SHIPPED_MODEL) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def test_every_http_route_is_described_on_both_surfaces(app, base_url):
    from app.openapi import OPERATIONS, UNDOCUMENTED, WEBSOCKET_RULES, _openapi_path

    spec = requests.get(f"{base_url}/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {
        (_openapi_path(r.rule), m)
        for r in app.url_map.iter_rules()
        if r.endpoint not in UNDOCUMENTED and r.rule not in WEBSOCKET_RULES
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert described == routes
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.rule not in WEBSOCKET_RULES} - UNDOCUMENTED
    assert endpoints <= set(OPERATIONS), f"describe these in app/openapi.py OPERATIONS: {endpoints - set(OPERATIONS)}"
    keyed = spec["paths"]["/v1/audio/transcriptions"]["post"]
    assert {"401", "403", "429"} <= set(keyed["responses"]) and "bearer" in spec["components"]["securitySchemes"]
    assert ("/openai/v1/audio/transcriptions", "POST") in described and (
        "/v1/audio/transcriptions",
        "POST",
    ) in described
    upload = spec["components"]["schemas"]["TranscriptionUpload"]
    assert upload["properties"]["timestamps_granularity"]["enum"] == ["word", "segment", "none"]  # from marshmallow
    assert upload["additionalProperties"] is False


def test_docs_page_and_its_assets_are_served_locally(base_url):
    page = requests.get(f"{base_url}/docs", timeout=10)
    assert page.status_code == 200 and "/openapi.json" in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        got = requests.get(f"{base_url}{asset}", timeout=10)
        assert got.status_code == 200 and len(got.content) > 10_000


def test_real_results_on_both_surfaces_match_the_spec(api_schema, base_url, celery_worker, speech_dir):
    """The fuzzer only meets unknown jobs; a real completed job checks the result shapes too."""
    from tests.speech import synthesize

    wav = synthesize("a budgie is a small and friendly parrot", speech_dir / "openapi-budgie.wav")
    with open(wav, "rb") as fh:
        created = requests.post(f"{base_url}/v1/audio/transcriptions", files={"file": fh}, timeout=60)
    api_schema["/v1/audio/transcriptions"]["POST"].validate_response(created)
    job_url = f"{base_url}/v1/audio/transcriptions/{created.json()['id']}"
    wait_for(lambda: requests.get(job_url, timeout=10).json()["status"] == "completed", 120, what="the job")
    job = requests.get(job_url, timeout=10)
    assert job.json()["words"]
    api_schema["/v1/audio/transcriptions/{job_id}"]["GET"].validate_response(job)
    api_schema["/v1/audio/transcriptions"]["GET"].validate_response(requests.get(f"{base_url}/v1/audio/transcriptions"))
    for fmt in ("txt", "json", "srt", "vtt"):
        export = requests.get(f"{job_url}/export/{fmt}", timeout=10)
        api_schema["/v1/audio/transcriptions/{job_id}/export/{fmt}"]["GET"].validate_response(export)
    for fmt in ("json", "verbose_json", "text", "srt"):
        with open(wav, "rb") as fh:
            answer = requests.post(
                f"{base_url}/openai/v1/audio/transcriptions",
                files={"file": fh},
                data={"model": "whisper-1", "response_format": fmt, "timestamp_granularities[]": ["word", "segment"]}
                if fmt == "verbose_json"
                else {"model": "whisper-1", "response_format": fmt},
                timeout=120,
            )
        assert answer.status_code == 200, answer.text
        api_schema["/openai/v1/audio/transcriptions"]["POST"].validate_response(answer)
    deleted = requests.delete(job_url, timeout=10)
    assert deleted.status_code == 204
    api_schema["/v1/audio/transcriptions/{job_id}"]["DELETE"].validate_response(deleted)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_live_app_honours_its_spec(case):
    case.call_and_validate(checks=CHECKS, timeout=30)
