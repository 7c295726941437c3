"""Database fixtures shared by the store and collections tests: each test runs on a fresh SQLite file
and on a fresh schema of the machine's PostgreSQL ($INVOICE_AGENT_TEST_POSTGRES, default
postgresql+psycopg://postgres@127.0.0.1:5432/test). If PostgreSQL cannot be reached, that half skips and
says why on a developer's machine, and fails the run under CI (tests/conftest.py). Import the fixtures into a
conftest and give it a `clock` fixture.

`python -m tests.databases [--wait SECONDS]` says whether that server can be used (`make postgres` asks it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from tools.store import Store

POSTGRES_URL = os.environ.get("INVOICE_AGENT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unreachable(url: str = POSTGRES_URL, timeout: int = 5) -> str | None:
    """Why the tests cannot use the PostgreSQL at `url`, or None when they can. The reason names PostgreSQL:
    it is the skip's reason, and what a CI run that must not skip reports as missing."""
    engine = create_engine(url, connect_args={"connect_timeout": timeout})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"PostgreSQL unreachable at {make_url(url)}: {str(exc.orig).strip()}"
    finally:
        engine.dispose()
    return None


class Clock:
    """A clock the test moves: each reading is one second after the last; `advance` jumps ahead."""

    def __init__(self, start: datetime = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def fresh_schema(base: str, prefix: str = "test") -> Iterator[str]:
    """A URL on a new PostgreSQL schema of `base`, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fresh_database(prefix: str) -> Iterator[str]:
    """A URL of a new PostgreSQL database (for a process of its own, which a schema option would not
    reach), dropped afterwards; the test skips, saying why, when PostgreSQL cannot be reached."""
    psycopg = pytest.importorskip("psycopg")
    admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:  # the machine's PostgreSQL is expected; say why if it is not there
        pytest.skip(f"PostgreSQL unreachable at {make_url(POSTGRES_URL)}: {str(exc).strip()}")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = unreachable()
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from fresh_schema(request.getfixturevalue("postgres_url"))


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


def main(argv: list[str] | None = None) -> int:
    """Exit 0 once the tests' PostgreSQL answers (within --wait seconds), else 1 saying why on stderr."""
    parser = argparse.ArgumentParser(prog="python -m tests.databases", description=main.__doc__)
    parser.add_argument("--wait", type=float, default=0, help="keep trying this many seconds (default: once)")
    parser.add_argument("--quiet", action="store_true", help="say nothing when it is down")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    while (reason := unreachable(timeout=3)) and time.monotonic() < deadline:
        time.sleep(1)
    if reason and not args.quiet:
        print(reason, file=sys.stderr)
    return 1 if reason else 0


if __name__ == "__main__":
    sys.exit(main())
