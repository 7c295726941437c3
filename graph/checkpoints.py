"""Checkpointers: a SQLite file by default, PostgreSQL when the database URL says so.

An approval can wait for days: the checkpoint is what lets another process, later, resume the run.

The checkpoint tables are made once per database, at start-up (`prepare_checkpoints`: the server and each
worker call it before taking any run), never by runs racing each other: on PostgreSQL two processes
running `PostgresSaver.setup()` on a fresh database at once both insert version 0 into
`checkpoint_migrations` and one fails (UniqueViolation on `checkpoint_migrations_pkey`). So set-up runs
under a PostgreSQL advisory lock, taken with `pg_try_advisory_lock` in a loop rather than a blocking
`pg_advisory_lock`: a session blocked in a statement holds a snapshot, and the `CREATE INDEX
CONCURRENTLY` of the set-up in the session holding the lock would wait for it (a deadlock). A process sets
the tables up once per database; `open_checkpointer` makes sure of it, so commands that do not start a
server (`invoice-agent run`) work on a fresh database too.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["CHECKPOINT_LOCK", "open_checkpointer", "prepare_checkpoints"]

CHECKPOINT_LOCK = 0x1A_57_C4EC
"""The advisory lock key under which checkpoint tables are set up (the store's migrations use another)."""
SETUP_TIMEOUT = 120.0
"""Seconds to wait for another process to finish setting the tables up before giving up."""

_prepared: set[str] = set()
_prepared_lock = threading.Lock()


def _postgres(database_url: str | None) -> str | None:
    """The libpq connection string of a PostgreSQL database URL; None for anything else (SQLite)."""
    if database_url and database_url.startswith("postgresql"):
        return database_url.replace("postgresql+psycopg://", "postgresql://")
    return None


def prepare_checkpoints(database_url: str | None, data_dir: Path) -> None:
    """Create (or upgrade) the checkpoint tables, once per database and process, before any run uses them."""
    conn_string = _postgres(database_url)
    if conn_string is None:
        with _sqlite_saver(data_dir):
            return
    with _prepared_lock:
        if conn_string in _prepared:
            return
        _setup_postgres(conn_string)
        _prepared.add(conn_string)


def _setup_postgres(conn_string: str) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    with psycopg.connect(conn_string, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        deadline = time.monotonic() + SETUP_TIMEOUT
        while not (conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (CHECKPOINT_LOCK,)).fetchone() or {}).get(
                "locked"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the checkpoint tables were still being set up by another process after "
                                   f"{SETUP_TIMEOUT:.0f} s")
            time.sleep(0.05)
        try:
            PostgresSaver(conn).setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (CHECKPOINT_LOCK,))


@contextmanager
def open_checkpointer(database_url: str | None, data_dir: Path) -> Iterator[Any]:
    """Yield a ready checkpointer: PostgresSaver for a postgresql:// URL, else SqliteSaver in `data_dir`."""
    conn_string = _postgres(database_url)
    if conn_string is not None:
        from langgraph.checkpoint.postgres import PostgresSaver

        prepare_checkpoints(database_url, data_dir)  # already done at start-up: a set lookup
        with PostgresSaver.from_conn_string(conn_string) as pg_saver:
            yield pg_saver
        return
    with _sqlite_saver(data_dir) as saver:
        yield saver


@contextmanager
def _sqlite_saver(data_dir: Path) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()  # CREATE TABLE IF NOT EXISTS, under SQLite's own write lock
        yield saver
    finally:
        conn.close()
