"""Every store test runs twice: on a fresh SQLite file and on a fresh schema of the machine's PostgreSQL."""

from __future__ import annotations

import pytest

from tests.databases import Clock, database_url, make_store, postgres_url, store

__all__ = ["clock", "database_url", "make_store", "postgres_url", "store"]


@pytest.fixture
def clock() -> Clock:
    return Clock()
