"""Collections tests: the Parallax demo (23 invoices Jul-Sep 2026, 18 payments), SQLite and PostgreSQL.

PostgreSQL is found at $INVOICE_AGENT_TEST_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each test gets a fresh schema, dropped afterwards. If the server cannot be reached, those tests skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from api.settings import DEMO_WORKSPACE, Settings
from tools.domain import Workspace
from tools.store import Store
from tools.workspace import load_workspace

POSTGRES_URL = os.environ.get("INVOICE_AGENT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def demo() -> Workspace:
    return load_workspace(DEMO_WORKSPACE)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {str(exc.orig).strip()}")
    finally:
        engine.dispose()
    return POSTGRES_URL


def _schema_url(base: str) -> Iterator[str]:
    schema = f"test_collections_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema."""
    yield from _schema_url(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from _schema_url(request.getfixturevalue("postgres_url"))


class Clock:
    """A clock the test moves: each reading is one second after the last; `advance` jumps ahead."""

    def __init__(self) -> None:
        self.now = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_store(database_url: str, clock: Clock) -> Iterator[Callable[[], Store]]:
    """Open another `Store` on the test's database (its own engine and connections, like another process)."""
    opened: list[Store] = []

    def make() -> Store:
        store = Store(database_url, clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    store = make_store()
    store.migrate()
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=DEMO_WORKSPACE, data_dir=tmp_path / "data", anthropic_api_key=None, smtp_host=None,
                    smtp_to=["ann@parallax.example"])
