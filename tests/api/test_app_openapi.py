"""The OpenAPI document describes every route with its models, and the app keeps to it under fuzzing.

Schemathesis generates requests from the document (valid and invalid), sends them to the app in
process, and checks each answer: never a 5xx, and status, content type, headers and body as documented.
Bounded and derandomized, so the run is the same every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import ROUTERS, create_app
from api.settings import Settings
from tests.api.conftest import PUBLIC_URL, TINY

EXAMPLES = 25


@dataclass
class Fuzzed:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    data: Path = tmp_path_factory.mktemp("fuzz") / "data"
    settings = Settings(workspace=TINY, data_dir=data, anthropic_api_key=None, public_url=PUBLIC_URL,
                        slack_webhook_url=None, smtp_host=None, run_workers=64)
    app = create_app(settings)
    secret, _ = app.state.service.tokens.create("approver", "fuzzer@firm")
    with TestClient(app):
        yield Fuzzed(app, {"Authorization": f"Bearer {secret}"})


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)


OPERATIONS = sorted((method, route.path) for router in ROUTERS for route in router.routes
                    if isinstance(route, APIRoute) for method in route.methods)
PUBLIC = {"/health"}
"""Routes that need no token."""


@pytest.mark.parametrize(("method", "path", "mode"), [
    (method, path, mode) for method, path in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (path in PUBLIC and mode is GenerationMode.NEGATIVE)  # no token, no input: nothing can be made invalid
])
def test_no_route_answers_a_server_error_or_strays_from_the_document(
    method: str, path: str, mode: GenerationMode, api_schema: schemathesis.BaseSchema, fuzzed: Fuzzed
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(mode))
    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        # Valid JSON can still name a client that does not exist: that 422 is an answer, not a failure.
        case.call_and_validate(headers=dict(fuzzed.headers), excluded_checks=[positive_data_acceptance])

    check()


def test_every_route_is_described_with_its_models_and_its_errors(fuzzed: Fuzzed) -> None:
    document = fuzzed.app.openapi()
    operations = {(method.upper(), path): op for path, item in document["paths"].items() for method, op in item.items()}

    assert set(operations) == set(OPERATIONS)  # so the fuzzing above covers every route
    assert {("POST", "/runs"), ("GET", "/runs/{run_id}"), ("POST", "/runs/{run_id}/resume"), ("GET", "/approvals"),
            ("POST", "/approvals/{run_id}/approve"), ("POST", "/approvals/{run_id}/request-changes"),
            ("POST", "/approvals/{run_id}/reject"), ("GET", "/drafts/{run_id}"), ("GET", "/invoices"),
            ("GET", "/invoices/{invoice_id}"), ("GET", "/invoices/{invoice_id}/pdf"), ("GET", "/health"),
            ("GET", "/me")} <= set(operations)
    for (method, path), op in operations.items():
        success = next(r for code, r in op["responses"].items() if code.startswith("2"))
        [(media_type, content)] = success["content"].items()
        if path.endswith("/pdf"):
            assert media_type == "application/pdf"
        else:
            assert media_type == "application/json" and "$ref" in content["schema"], (method, path)
        if path not in PUBLIC:
            assert op["security"] == [{"token": []}], (method, path)
            assert op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorPublic")
        if op.get("requestBody") or op.get("parameters"):
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorPublic")
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["token"][
            "description"]}
    assert {"403", "409"} <= set(operations[("POST", "/approvals/{run_id}/approve")]["responses"])
