"""`invoice-agent rules suggest`: the rules plain words make, last period's invoice with them, and clients.yaml
written only when a person confirms (`--write`, or a yes at the terminal's prompt)."""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path

import pytest

from agent.testing import ScriptedModel, call, turn
from api import cli_rules
from api.cli import main

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "INVOICE_AGENT_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def suggest(capsys: pytest.CaptureFixture[str], folder: Path, text: str, *more: str) -> tuple[int, str, str]:
    return run(capsys, "rules", "suggest", "Acme", text, "--workspace", str(folder), "--as-of", "2026-04-02", *more)


def march_total(capsys: pytest.CaptureFixture[str], folder: Path) -> str:
    code, out, _ = run(capsys, "draft", "--workspace", str(folder), "--client", "acme", "--period", "2026-03",
                       "--as-of", "2026-04-01", "--json")
    assert code == 0
    return str(json.loads(out)["total"])


def test_suggest_shows_the_rules_and_last_periods_invoice_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    before = (tiny / "clients.yaml").read_bytes()
    code, out, _ = suggest(capsys, tiny, "cap at 1,000; sing at the kickoff")
    assert code == 0
    assert "Rules for Acme Industries Ltd (acme), read offline from: 'cap at 1,000; sing at the kickoff'" in out
    assert "1. rules: + {cap: {amount: '1000.00'}}" in out
    assert "'cap at 1,000': each invoice comes to at most 1000.00 GBP before tax, after any discount" in out
    assert "Not read:\n  I can't turn 'sing at the kickoff' into a rule yet" in out
    assert "'cap at 1,000' replaces {cap: {amount: '650.00'}}" in out
    assert "Acme Industries Ltd (acme), 2026-03 (drafted as of 2026-04-01), GBP" in out
    assert "Cap adjustment        -48.62 ->         0.00  (+48.62)" in out
    assert "Total                 780.00 ->       838.34  (+58.34)" in out
    assert "Nothing was written. To write these rules to" in out
    assert f"invoice-agent rules suggest acme 'cap at 1,000; sing at the kickoff' --workspace {tiny} --write" in out
    assert (tiny / "clients.yaml").read_bytes() == before


def test_write_saves_the_rules_and_the_workspace_then_drafts_the_new_total(
        capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    assert march_total(capsys, tiny) == "780.00"
    code, out, _ = suggest(capsys, tiny, "cap at 1,000", "--write")
    assert code == 0 and f"Wrote 1 change(s) to {tiny / 'clients.yaml'}" in out
    assert march_total(capsys, tiny) == "838.34"
    code, out, _ = run(capsys, "draft", "--workspace", str(tiny), "--client", "beta", "--period", "2026-03",
                       "--as-of", "2026-04-01", "--json")
    assert code == 0 and json.loads(out)["total"] == "1275.68"  # the other client, as before


def test_a_yes_at_the_terminal_writes_and_anything_else_does_not(
        capsys: pytest.CaptureFixture[str], tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_rules, "_is_terminal", lambda: True)
    asked: list[str] = []

    def answer(reply: str) -> None:
        monkeypatch.setattr(builtins, "input", lambda question: asked.append(question) or reply)

    answer("no")
    suggest(capsys, tiny, "cap at 1,000")
    assert asked == [f"\nWrite these rules to {tiny / 'clients.yaml'}? [y/N] "]
    assert march_total(capsys, tiny) == "780.00"
    answer("y")
    code, out, _ = suggest(capsys, tiny, "cap at 1,000")
    assert code == 0 and "Wrote 1 change(s)" in out and len(asked) == 2
    assert march_total(capsys, tiny) == "838.34"


def test_nothing_is_asked_or_written_when_no_one_is_at_a_terminal(
        capsys: pytest.CaptureFixture[str], tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_rules, "_is_terminal", lambda: False)
    monkeypatch.setattr(builtins, "input", lambda question: pytest.fail(f"asked {question!r}"))
    code, out, _ = suggest(capsys, tiny, "cap at 1,000")
    assert code == 0 and "Nothing was written." in out
    assert march_total(capsys, tiny) == "780.00"


def test_words_that_make_no_rule_change_nothing_and_say_why(capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    code, out, _ = suggest(capsys, tiny, "bill weekends at double rate", "--write")
    assert code == 1
    assert "no rule could be read from these words" in out
    assert "I can't turn 'bill weekends at double rate' into a rule: 'weekends' is not a category" in out
    assert "Nothing to write" in out and "Wrote" not in out
    assert (tiny / "clients.yaml").read_bytes() == (TINY / "clients.yaml").read_bytes()


def test_an_unknown_client_is_a_clear_error(capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    code, out, err = run(capsys, "rules", "suggest", "Parallax", "10% off", "--workspace", str(tiny))
    assert code == 2 and out == ""
    assert "no client matches 'Parallax'; known clients: acme, beta" in err


def test_the_bundled_demo_is_previewed_but_never_written(capsys: pytest.CaptureFixture[str]) -> None:
    from api.settings import DEMO_WORKSPACE

    before = (DEMO_WORKSPACE / "clients.yaml").read_bytes()
    code, out, _ = run(capsys, "rules", "suggest", "northwind", "doesn't pay for client meetings", "--as-of",
                       "2026-11-02", "--write")
    assert code == 0
    assert "entries in Account & client meetings (client_meeting) are not billed to Northwind Outdoor Ltd" in out
    assert "Northwind Outdoor Ltd (northwind), 2026-10 (drafted as of 2026-11-01), GBP" in out
    assert "- Account & client meetings" in out and "(removed)" in out
    assert "Nothing was written: the bundled demo workspace is read-only" in out
    assert (DEMO_WORKSPACE / "clients.yaml").read_bytes() == before


def test_rules_a_model_read_are_not_written_by_write_alone(
        capsys: pytest.CaptureFixture[str], tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"rules": [{"kind": "cap", "words": "never let it go past 1,000", "amount": "1000"}]}
    model = ScriptedModel([turn(call("suggest_rules", **answer))], name="claude-test")
    monkeypatch.setattr(cli_rules, "choose_model", lambda *args: model)
    before = (tiny / "clients.yaml").read_bytes()
    code, out, _ = suggest(capsys, tiny, "never let it go past 1,000", "--write")
    assert code == 0 and len(model.calls) == 1
    assert "Nothing was written: claude-test read 1 of these rules" in out
    assert (tiny / "clients.yaml").read_bytes() == before
