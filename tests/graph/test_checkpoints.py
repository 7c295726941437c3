"""Checkpoint tables are set up once per database, under a lock, not by runs racing on a fresh database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from graph import checkpoints
from graph.checkpoints import open_checkpointer, prepare_checkpoints
from tests.databases import fresh_database


@pytest.fixture
def database() -> Iterator[str]:
    yield from fresh_database("ia_ckpt")


def test_processes_setting_up_a_fresh_database_at_once_each_succeed_and_migrate_it_once(database: str) -> None:
    conn_string = database.replace("postgresql+psycopg://", "postgresql://")
    errors: list[BaseException] = []
    ready = threading.Barrier(6)

    def start_up() -> None:  # what each server or worker does at start (a connection of its own, like a process)
        ready.wait()
        try:
            checkpoints._setup_postgres(conn_string)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_up) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    with psycopg.connect(conn_string) as conn:
        versions = conn.execute("SELECT v, count(*) FROM checkpoint_migrations GROUP BY v ORDER BY v").fetchall()
    assert versions and all(count == 1 for _, count in versions)
    assert [v for v, _ in versions] == list(range(len(versions)))


def test_a_checkpointer_opened_on_a_fresh_database_is_ready_and_set_up_once_per_process(
    database: str, tmp_path: Path
) -> None:
    prepare_checkpoints(database, tmp_path)
    prepare_checkpoints(database, tmp_path)  # a lookup: already set up in this process

    with open_checkpointer(database, tmp_path) as saver:
        assert list(saver.list({"configurable": {"thread_id": "nothing-yet"}})) == []


def test_on_sqlite_the_tables_are_made_in_the_data_folder(tmp_path: Path) -> None:
    prepare_checkpoints(None, tmp_path / "data")

    assert (tmp_path / "data" / "checkpoints.sqlite").exists()
