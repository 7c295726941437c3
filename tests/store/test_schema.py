"""Migrations: the shipped Alembic revisions create exactly the schema the models declare."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tools.store import Store
from tools.store.models import Base
from tools.store.store import MIGRATIONS_DIR

TABLES = {"runs", "drafts", "approvals", "decisions", "invoices", "invoice_entries", "invoice_sequences",
          "api_tokens", "payments", "payment_allocations", "reminders", "late_fees", "collection_locks",
          "learned_labels", "run_jobs", "active_runs", "review_sessions"}


def test_migrate_creates_every_table_at_the_head_revision(make_store: Callable[[], Store]) -> None:
    store = make_store()
    assert not TABLES & set(inspect(store.engine).get_table_names())

    store.migrate()

    assert TABLES | {"alembic_version"} <= set(inspect(store.engine).get_table_names())
    with store.engine.connect() as conn:
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    assert versions == set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()) == {"0008_run_jobs"}  # one chain


def test_migrating_again_changes_nothing(store: Store) -> None:
    run = store.create_run("parallax", "invoice Acme for March")

    store.migrate()

    assert store.get_run(run.id) == run


def test_the_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert differences == []


def test_the_live_entry_index_is_unique_and_partial(store: Store) -> None:
    indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("invoice_entries")}
    live = indexes["uq_invoice_entries_live"]
    assert live["unique"]
    assert live["column_names"] == ["workspace", "entry_id"]
    where = live.get("dialect_options", {})
    assert any("active" in str(value) for key, value in where.items() if key.endswith("_where"))
