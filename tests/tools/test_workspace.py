"""Loading a workspace: a good one loads whole; a bad one is reported in full and nothing is loaded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.tools.workspaces import copy_tiny, problems, replace
from tools.workspace import load_workspace


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return copy_tiny(tmp_path)


def test_the_tiny_workspace_loads_with_exact_decimals(tiny: Path) -> None:
    ws = load_workspace(tiny)
    assert [c.id for c in ws.clients] == ["acme", "beta"]
    assert ws.client("acme").tax_rate == Decimal("0.20") and str(ws.client("acme").tax_rate) == "0.20"
    assert len(ws.entries) == 15 and ws.entries[0].hours == Decimal("1.1") and ws.entries[0].row == 2


def test_every_problem_in_every_file_is_reported_at_once(tiny: Path) -> None:
    entries = tiny / "time_entries.csv"
    replace(entries, "e2,2026-03-02", "e2,2026-02-30")
    replace(entries, "hi-fi mocks,0,", "hi-fi mocks,lots,")
    replace(entries, "b3,2026-03-04,Cat Poe,beta", "b3,2026-03-04,Cat Poe,gamma")
    replace(tiny / "tasks.csv", "Product page build,open", "Product page build,closed")
    found = problems(tiny)
    assert any(p.startswith("time_entries.csv:3 [date]") for p in found)
    assert any(p.startswith("time_entries.csv:12 [hours]") and "'lots'" in p for p in found)
    assert "time_entries.csv:16 [client]: unknown client 'gamma'; clients.yaml defines acme, beta" in found
    assert any(p.startswith("tasks.csv:3 [status]") for p in found)


def test_a_bad_rule_names_its_line_and_field(tiny: Path) -> None:
    replace(tiny / "clients.yaml", 'pattern: "(?i)bug|fix"', 'pattern: "(unclosed"')
    replace(tiny / "clients.yaml", "- cap: {amount:", "- capp: {amount:")
    replace(tiny / "clients.yaml", 'tax_rate: "0.19"', 'tax_rate: "nineteen"')
    found = problems(tiny)
    assert any(p.startswith("clients.yaml:28 [clients.1.tax_rate]") and "'nineteen'" in p for p in found)
    assert any(p.startswith("clients.yaml:20 [clients.0.rules.1.rollup.pattern]") and "regular expression" in p
               for p in found)
    assert any(p.startswith("clients.yaml:23 [clients.0.rules.4]") and "exclude, rollup" in p for p in found)


def test_a_missing_column_and_a_ragged_row_are_reported(tiny: Path) -> None:
    (tiny / "people.csv").write_text("person,email\nAnn Lee,ann@x\n")
    with (tiny / "time_entries.csv").open("a") as f:
        f.write("z1,2026-03-05,Ann Lee,acme,ACM.WEB\n")
    found = problems(tiny)
    assert "people.csv:1: missing column(s): role" in found
    assert "time_entries.csv:17: expected 12 cells as in the header, found 5" in found


def test_repeated_ids_and_invalid_yaml(tiny: Path) -> None:
    with (tiny / "time_entries.csv").open("a") as f:
        f.write("e1,2026-03-05,Ann Lee,acme,ACM.WEB,Design,again,1,,,true,\n")
    (tiny / "workspace.yaml").write_text("firm: [unclosed\n")
    found = problems(tiny)
    assert "time_entries.csv:17 [id]: 'e1' repeats line 2" in found
    assert any(p.startswith("workspace.yaml:") and "not valid YAML" in p for p in found)


def test_a_missing_required_file_and_folder(tiny: Path, tmp_path: Path) -> None:
    (tiny / "tasks.csv").unlink()
    assert problems(tiny) == ["tasks.csv: file is missing"]
    assert problems(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: no such workspace folder"]


def test_negative_hours_load_as_data_for_the_invalid_hours_check(tiny: Path) -> None:
    replace(tiny / "time_entries.csv", "hi-fi mocks,0,", "hi-fi mocks,-2,")
    ws = load_workspace(tiny)
    assert ws.entries[10].hours == Decimal("-2")


def test_optional_history_files_may_be_absent_and_unknown_columns_are_ignored(tiny: Path) -> None:
    replace(tiny / "people.csv", "person,role,email", "person,role,email,desk")
    text = (tiny / "people.csv").read_text().splitlines()
    (tiny / "people.csv").write_text("\n".join([text[0]] + [row + ",3F" for row in text[1:]]) + "\n")
    ws = load_workspace(tiny)
    assert ws.invoices == [] and ws.payments == [] and ws.people[0].role == "senior"
