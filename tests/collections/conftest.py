"""Collections tests: the Parallax demo (23 invoices Jul-Sep 2026, 18 payments), SQLite and PostgreSQL.

PostgreSQL is found at $INVOICE_AGENT_TEST_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each test gets a fresh schema, dropped afterwards. If the server cannot be reached, those tests skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.settings import DEMO_WORKSPACE, Settings
from tests.databases import Clock, database_url, fresh_schema, make_store, postgres_url, store
from tools.domain import Workspace
from tools.workspace import load_workspace

FIXTURES = Path(__file__).parent / "fixtures"
__all__ = ["FIXTURES", "Clock", "database_url", "make_store", "postgres_url", "store"]


@pytest.fixture(scope="session")
def demo() -> Workspace:
    return load_workspace(DEMO_WORKSPACE)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema."""
    yield from fresh_schema(postgres_url, "test_collections")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 8, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=DEMO_WORKSPACE, data_dir=tmp_path / "data", anthropic_api_key=None, smtp_host=None,
                    smtp_to=["ann@parallax.example"])
