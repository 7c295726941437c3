"""The HTTP API on the tiny workspace, offline, with a store in the test's folder (or a fresh PostgreSQL
database for tests parametrized with `backend`), an approver and a viewer token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.background import RunService
from api.settings import Settings
from tests.databases import fresh_database

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
AS_OF = "2026-04-01"
PUBLIC_URL = "http://invoices.test"


@dataclass
class Api:
    """A running app, its client, and the headers of an approver ("ann@firm") and a viewer ("vic@firm")."""

    app: FastAPI
    client: TestClient
    approver: dict[str, str]
    viewer: dict[str, str]

    @property
    def service(self) -> RunService:
        service: RunService = self.app.state.service
        return service

    def start(self, text: str = "invoice Acme for March") -> str:
        response = self.client.post("/runs", json={"text": text, "as_of": AS_OF}, headers=self.approver)
        assert response.status_code == 202, response.text
        [run] = response.json()["data"]
        assert run["status"] == "running"
        run_id: str = run["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.client.get(f"/runs/{run_id}", headers=self.viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, run_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the run until it is no longer running, as a client would."""
        deadline = time.monotonic() + timeout
        while (run := self.run(run_id))["status"] == "running":
            assert time.monotonic() < deadline, f"run {run_id} still running after {timeout} s"
            time.sleep(0.02)
        return run

    def wait_job(self, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the queued job (GET /jobs/{id}) until it has ended, as a client would."""
        deadline = time.monotonic() + timeout
        while (job := self.client.get(f"/jobs/{job_id}", headers=self.viewer).json())["status"] in ("queued",
                                                                                                    "running"):
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
            time.sleep(0.02)
        return job

    def waiting_run(self) -> str:
        """A run on Acme, March 2026, whose draft (780.00 GBP) waits for approval."""
        run_id = self.start()
        assert self.wait(run_id)["status"] == "awaiting_approval"
        return run_id


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The database URL: None for SQLite in the data folder (the default), or a new PostgreSQL database
    for a test marked `@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
    else:
        yield from fresh_database("ia_api")


@pytest.fixture
def settings(tmp_path: Path, backend: str | None) -> Settings:
    return Settings(workspace=TINY, data_dir=tmp_path / "data", database_url=backend, anthropic_api_key=None,
                    public_url=PUBLIC_URL, slack_webhook_url=None, smtp_host=None, smtp_to=[], run_workers=4)


@pytest.fixture
def make_api(settings: Settings) -> Iterator[Callable[..., Api]]:
    """Build an app (keyword arguments go to `create_app`; `settings=` replaces the test's settings)."""
    clients: list[TestClient] = []

    def make(**kwargs: Any) -> Api:
        app = create_app(kwargs.pop("settings", settings), **kwargs)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        service: RunService = app.state.service
        approver, _ = service.tokens.create("approver", "ann@firm")
        viewer, _ = service.tokens.create("viewer", "vic@firm")
        return Api(app, client, {"Authorization": f"Bearer {approver}"}, {"Authorization": f"Bearer {viewer}"})

    yield make
    for client in clients:
        client.__exit__(None, None, None)  # runs the app's shutdown: waits for its workers, closes the store


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
