"""`invoice-agent draft`: the contract's JSON, a readable draft, and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from api.cli import main

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("client", ["acme", "beta"])
def test_json_draft_of_the_tiny_workspace_is_exactly_the_worked_answer(
    capsys: pytest.CaptureFixture[str], client: str
) -> None:
    code, out, _ = run(capsys, "draft", "--workspace", str(TINY), "--client", client, "--period", "2026-03",
                       "--as-of", "2026-04-01", "--json")
    assert code == 0
    got = json.loads(out)
    messages = [a.pop("message") for a in got["anomalies"]]
    assert all(isinstance(m, str) and m for m in messages)
    assert got == json.loads((TINY / "answers" / f"{client}-2026-03.json").read_text())


def test_the_readable_draft_shows_lines_totals_and_every_held_flagged_and_excluded_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "draft", "--workspace", str(TINY), "--client", "Acme", "--period", "2026-03",
                       "--as-of", "2026-04-01")
    assert code == 0
    assert "Acme Industries Ltd (acme)" in out and "due 2026-05-01" in out
    assert "Design" in out and "DSN-100" in out and "306.25" in out
    assert "780.00 GBP" in out
    assert "e6         duplicate            duplicate of entry e2" in out
    assert "e7         missing_description" in out
    assert "excluded by client rule: category internal_meeting: e4" in out


def test_an_unknown_client_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "draft", "--workspace", str(TINY), "--client", "Parallax", "--period", "2026-03")
    assert code == 2 and out == ""
    assert "no client matches 'Parallax'; known clients: acme, beta" in err


def test_a_bad_period_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "draft", "--workspace", str(TINY), "--client", "acme", "--period", "March")
    assert code == 2 and "invalid period 'March'" in err


def test_a_malformed_workspace_lists_every_problem_and_drafts_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(TINY, root)
    entries = root / "time_entries.csv"
    entries.write_text(entries.read_text().replace("e1,2026-03-02", "e1,2026-13-02").replace(",2.0,", ",two,", 1))
    code, out, err = run(capsys, "draft", "--workspace", str(root), "--client", "acme", "--period", "2026-03")
    assert code == 2 and out == ""
    assert "2 problem(s); nothing was loaded" in err
    assert "time_entries.csv:2 [date]" in err and "time_entries.csv:3 [hours]" in err
