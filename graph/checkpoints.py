"""Checkpointers: a SQLite file by default, PostgreSQL when the database URL says so.

An approval can wait for days: the checkpoint is what lets another process, later, resume the run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def open_checkpointer(database_url: str | None, data_dir: Path) -> Iterator[Any]:
    """Yield a ready checkpointer: PostgresSaver for a postgresql:// URL, else SqliteSaver in `data_dir`."""
    if database_url and database_url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver

        conn_string = database_url.replace("postgresql+psycopg://", "postgresql://")
        with PostgresSaver.from_conn_string(conn_string) as pg_saver:
            pg_saver.setup()
            yield pg_saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()
