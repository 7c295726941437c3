"""Runs and their drafts: a run records what was asked and what it cost; each draft is a new version."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.store.builders import MARCH, WORKSPACE, make_draft
from tools.store import RecordNotFoundError, Store


def test_a_run_is_created_read_and_updated(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March", run_id="thread-1")
    assert (run.id, run.status, run.client, run.period_start) == ("thread-1", "running", None, None)

    updated = store.update_run("thread-1", client="acme", period=MARCH, status="awaiting_approval")

    assert store.get_run("thread-1") == updated
    assert (updated.client, updated.period_start, updated.period_end) == ("acme", MARCH.start, MARCH.end)
    assert updated.updated_at > run.updated_at
    assert updated.request == "invoice Acme for March"


def test_a_failed_run_keeps_its_error(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Nobody for March")

    failed = store.update_run(run.id, status="failed", error="no client matches 'Nobody'")

    assert (failed.status, failed.error) == ("failed", "no client matches 'Nobody'")


def test_model_usage_adds_up_per_run(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")

    store.add_usage(run.id, input_tokens=1200, output_tokens=300, cost_usd=Decimal("0.0081"))
    total = store.add_usage(run.id, input_tokens=800, output_tokens=100, cost_usd=Decimal("0.004350"))

    assert (total.input_tokens, total.output_tokens, total.cost_usd) == (2000, 400, Decimal("0.012450"))


def test_an_unknown_run_is_a_typed_error_naming_it(store: Store) -> None:
    with pytest.raises(RecordNotFoundError, match="no run 'missing'"):
        store.get_run("missing")
    with pytest.raises(RecordNotFoundError):
        store.save_draft("missing", make_draft())


def test_runs_are_listed_newest_first_per_workspace(store: Store) -> None:
    first = store.create_run(WORKSPACE, "one")
    second = store.create_run(WORKSPACE, "two")
    store.create_run("other-firm", "three")

    assert [r.id for r in store.list_runs(WORKSPACE)] == [second.id, first.id]


def test_each_saved_draft_is_a_new_version_and_the_latest_wins(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    assert store.latest_draft(run.id) is None

    first = store.save_draft(run.id, make_draft("e1"))
    second = store.save_draft(run.id, make_draft("e1", "e2"))

    assert (first.version, second.version) == (1, 2)
    latest = store.latest_draft(run.id)
    assert latest is not None and latest.version == 2
    assert latest.draft == make_draft("e1", "e2")  # the whole draft, exactly as saved
    assert store.get_draft(run.id, 1).draft == make_draft("e1")
    with pytest.raises(RecordNotFoundError):
        store.get_draft(run.id, 3)


def test_a_float_cost_estimate_is_kept_to_the_millionth(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")

    total = store.add_usage(run.id, input_tokens=10, cost_usd=0.1)
    total = store.add_usage(run.id, input_tokens=10, cost_usd=0.2)

    assert total.cost_usd == Decimal("0.300000")  # not 0.30000000000000004
