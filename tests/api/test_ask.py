"""Asking about a run's draft over HTTP (POST /runs/{run_id}/ask) and on the command line (`invoice-agent ask`).

The runs are made here: a run recorded in the store with a draft saved to it, as the graph would leave it, so
these tests do not depend on how a run reaches its draft.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from agent.testing import ScriptedModel, call, turn
from api.cli import main
from api.settings import Settings
from tests.api.conftest import TINY, Api
from tools.domain import Workspace
from tools.drafts import Draft, draft_invoice
from tools.money import format_money
from tools.periods import Period
from tools.store import Store
from tools.workspace import load_workspace

DEMO = Path(__file__).parents[2] / "tools" / "demo" / "parallax"
MARCH = Period.parse("2026-03")


@pytest.fixture(scope="module")
def tiny() -> Workspace:
    return load_workspace(TINY)


@pytest.fixture(scope="module")
def march(tiny: Workspace) -> Draft:
    return draft_invoice(tiny, "acme", MARCH, as_of=date(2026, 4, 1))


def saved(store: Store, workspace: Workspace, *drafts: Draft) -> str:
    """A run waiting for approval with `drafts` as its versions 1, 2, ..."""
    run = store.create_run(workspace.root, "invoice Acme for March", client=drafts[0].client, period=MARCH,
                           status="awaiting_approval")
    for draft in drafts:
        store.save_draft(run.id, draft)
    return run.id


def scripted(answer: str, relied_on: list[str]) -> ScriptedModel:
    return ScriptedModel([turn(call("answer_question", answer=answer, relied_on=relied_on))])


# --- HTTP ---------------------------------------------------------------------------------------------------


def test_a_viewer_asks_about_a_runs_draft_and_gets_the_offline_answer_from_its_figures(
        api: Api, tiny: Workspace, march: Draft) -> None:
    run_id = saved(api.service.store, tiny, march)

    response = api.client.post(f"/runs/{run_id}/ask", json={"question": "What's the tax, and the total?"},
                               headers=api.viewer)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run_id"], body["draft_version"], body["source"], body["topics"]) == (run_id, 1, "offline", ["totals"])
    assert f"tax {format_money(march.tax)} {march.currency}" in body["answer"]
    assert f"total {format_money(march.total)} {march.currency}" in body["answer"]
    assert body["figures_checked"] is True and body["notes"] == []


def test_the_apps_model_answers_and_a_sentence_with_a_wrong_figure_is_removed_and_noted(
        make_api: Callable[..., Api], tiny: Workspace, march: Draft) -> None:
    wrong = format_money(march.total * 3)
    api = make_api(model=scripted(f"The draft comes to {format_money(march.total)} {march.currency}. "
                                  f"Last month it was {wrong}.", ["L1"]))
    run_id = saved(api.service.store, tiny, march)

    body = api.client.post(f"/runs/{run_id}/ask", json={"question": "why is it up?"}, headers=api.viewer).json()

    assert body["source"] == "scripted"
    assert body["answer"] == f"The draft comes to {format_money(march.total)} {march.currency}."
    [note] = body["notes"]
    assert wrong in note and "removed" in note
    assert body["relied_on"] == ["L1"]


def test_an_earlier_version_of_the_draft_can_be_asked_about(api: Api, tiny: Workspace, march: Draft) -> None:
    first_entry = march.lines[0].entry_ids[0]
    revised = draft_invoice(tiny, "acme", MARCH, as_of=date(2026, 4, 1), dropped={first_entry: "not this month"})
    assert revised.total != march.total
    run_id = saved(api.service.store, tiny, march, revised)

    def ask(**extra: int) -> dict[str, str]:
        response = api.client.post(f"/runs/{run_id}/ask", json={"question": "what is the total?", **extra},
                                   headers=api.viewer)
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body

    latest, first = ask(), ask(version=1)

    assert latest["draft_version"] == 2 and f"total {format_money(revised.total)}" in latest["answer"]
    assert first["draft_version"] == 1 and f"total {format_money(march.total)}" in first["answer"]


def test_asking_needs_a_token_a_question_and_a_draft_of_this_workspace(api: Api, tiny: Workspace,
                                                                       march: Draft) -> None:
    store = api.service.store
    run_id = saved(store, tiny, march)
    elsewhere = store.create_run("/another/firm", "invoice Acme for March")
    store.save_draft(elsewhere.id, march)
    drafting = store.create_run(tiny.root, "invoice Acme for March")

    def status(path: str, body: object, headers: dict[str, str] | None = None) -> int:
        return api.client.post(path, json=body, headers=api.viewer if headers is None else headers).status_code

    question = {"question": "what is held?"}
    assert status(f"/runs/{run_id}/ask", question) == 200
    assert status(f"/runs/{run_id}/ask", question, headers={}) == 401
    assert status("/runs/nosuchrun/ask", question) == 404
    assert status(f"/runs/{elsewhere.id}/ask", question) == 404
    assert status(f"/runs/{drafting.id}/ask", question) == 404
    assert status(f"/runs/{run_id}/ask", {"question": "what is held?", "version": 9}) == 404
    assert status(f"/runs/{run_id}/ask", {"question": "   "}) == 422
    assert status(f"/runs/{run_id}/ask", {"question": "what?", "as": "admin"}) == 422


# --- the command line ----------------------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's data folder; no Claude key, no database or workspace from the environment."""
    for name in ("ANTHROPIC_API_KEY", "INVOICE_AGENT_CLAUDE_MODEL", "INVOICE_AGENT_DATABASE_URL",
                 "INVOICE_AGENT_WORKSPACE", "INVOICE_AGENT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def store_in(data: Path, workspace: Path) -> Store:
    data.mkdir(parents=True, exist_ok=True)
    store = Store(Settings(workspace=workspace, data_dir=data).store_url())
    store.migrate()
    return store


def test_the_ask_command_prints_the_offline_answer_and_says_whose_it_is(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = load_workspace(DEMO)
    draft = draft_invoice(demo, "northwind", Period.parse("2026-10"), as_of=date(2026, 11, 1))
    with store_in(data, DEMO) as store:
        run_id = saved(store, demo, draft)

    code = main(["ask", run_id, "why is Northwind up on September?", "--workspace", str(DEMO),
                 "--data", str(data)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Compared with the mean of its last 3 invoices")
    assert f"{format_money(draft.total)} {draft.currency} against" in out
    assert "(the offline answer: templates over the draft's own figures)" in out


def test_the_ask_command_labels_a_models_answer_and_prints_its_notes(
        data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tiny: Workspace,
        march: Draft) -> None:
    with store_in(data, TINY) as store:
        run_id = saved(store, tiny, march)
    model = scripted(f"The total is {format_money(march.total)}. It used to be 1.23.", [])
    monkeypatch.setattr("api.cli_ask.choose_model", lambda *_: model)

    code = main(["ask", run_id, "why?", "--workspace", str(TINY), "--data", str(data)])

    out = capsys.readouterr().out
    assert code == 0 and len(model.calls) == 1
    assert out.startswith(f"The total is {format_money(march.total)}.\n")
    assert "(scripted's answer; every figure in it checked against the draft's)" in out
    assert "notes:\n  · removed from the model's answer: 'It used to be 1.23.'" in out


def test_the_ask_command_answers_as_json(data: Path, capsys: pytest.CaptureFixture[str], tiny: Workspace,
                                         march: Draft) -> None:
    with store_in(data, TINY) as store:
        run_id = saved(store, tiny, march)

    code = main(["ask", run_id, "who worked most?", "--json", "--workspace", str(TINY), "--data", str(data)])

    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (body["run_id"], body["draft_version"], body["source"], body["topics"]) == (run_id, 1, "offline",
                                                                                      ["people"])
    assert body["figures_checked"] is True and body["answer"].endswith("worked most.")


def test_the_ask_command_refuses_a_run_of_another_workspace_and_says_what_to_pass(
        data: Path, capsys: pytest.CaptureFixture[str], tiny: Workspace, march: Draft) -> None:
    with store_in(data, TINY) as store:
        run_id = saved(store, tiny, march)

    code = main(["ask", run_id, "what is held?", "--workspace", str(DEMO), "--data", str(data)])

    assert code == 2
    assert "pass --workspace" in capsys.readouterr().err
