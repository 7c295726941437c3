"""The collections commands: tick, payments match/import/queue/resolve, ar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from api.settings import DEMO_WORKSPACE
from tests.collections.conftest import FIXTURES
from tools.domain import Workspace

DEMO = str(DEMO_WORKSPACE)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./invoice-agent-data from elsewhere
    for name in list(os.environ):
        if name.startswith("INVOICE_AGENT_"):
            monkeypatch.delenv(name)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_payments_match_prints_each_payment_and_the_invoices_it_settles(
    capsys: pytest.CaptureFixture[str], demo: Workspace,
) -> None:
    code, out, _ = _run(capsys, "payments", "match", "--workspace", DEMO, "--json")

    assert code == 0
    rows = json.loads(out)
    assert all(set(row) == {"payment_id", "invoice_numbers"} for row in rows)
    truth = {label.payment_id: sorted(label.invoice_numbers) for label in demo.payment_labels}
    assert {row["payment_id"]: row["invoice_numbers"] for row in rows} == truth


def test_payments_match_reads_nothing_but_the_workspace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "payments", "match", "--workspace", DEMO)

    assert code == 0
    assert "17 of 18 payments matched automatically" in out
    assert not (tmp_path / "invoice-agent-data").exists()


def test_tick_sends_once_and_a_second_tick_the_same_day_sends_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    data = str(tmp_path / "data")
    code, out, _ = _run(capsys, "tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data)
    assert code == 0
    assert "18 new payment(s), 17 matched, 1 queued; 5 reminder(s) and 1 escalation(s) sent" in out

    code, out, _ = _run(capsys, "tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data, "--json")
    report = json.loads(out)
    assert (code, report["sent"], report["payments_imported"]) == (0, [], 0)


def test_the_queue_is_resolved_from_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    _run(capsys, "tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data)

    code, out, _ = _run(capsys, "payments", "queue", "--workspace", DEMO, "--data", data)
    assert code == 0 and "pmt-007" in out and "HMRC VAT" in out

    code, out, _ = _run(capsys, "payments", "resolve", "pmt-007", "--ignore", "--reason", "VAT repayment",
                        "--workspace", DEMO, "--data", data, "--as", "ann")
    assert code == 0 and "ignored" in out
    code, out, _ = _run(capsys, "payments", "queue", "--workspace", DEMO, "--data", data)
    assert "no payments are waiting" in out


def test_resolving_against_an_invoice_in_another_currency_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    data = str(tmp_path / "data")
    _run(capsys, "tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data)

    code, _, err = _run(capsys, "payments", "resolve", "pmt-007", "--invoice", "INV-2026-0018",
                        "--workspace", DEMO, "--data", data)

    assert code == 2 and "cannot combine GBP and USD" in err


def test_a_bank_export_is_imported_with_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    chase = str(FIXTURES / "checking_statement_chase_style.csv")

    code, out, _ = _run(capsys, "payments", "import", chase, "--mapping", "chase", "--workspace", DEMO,
                        "--data", data)
    assert code == 0
    assert "2 payment(s) received in checking_statement_chase_style.csv: 2 new (0 matched, 2 queued)" in out

    code, out, _ = _run(capsys, "payments", "import", chase, "--mapping", "chase", "--workspace", DEMO,
                        "--data", data)
    assert "0 new (0 matched, 0 queued), 2 already recorded" in out


def test_a_csv_import_without_a_mapping_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    chase = str(FIXTURES / "checking_statement_chase_style.csv")

    code, _, err = _run(capsys, "payments", "import", chase, "--workspace", DEMO)

    assert code == 2 and "--mapping" in err


def test_ar_prints_the_metrics_and_draws_the_aging(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    _run(capsys, "tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data)
    png = tmp_path / "aging.png"

    code, out, _ = _run(capsys, "ar", "--as-of", "2026-10-31", "--png", str(png), "--workspace", DEMO,
                        "--data", data, "--json")

    assert code == 0
    report = json.loads(out)
    gbp = next(t for t in report["totals"] if t["currency"] == "GBP")
    assert gbp["open_balance"] == "156463.87"
    assert gbp["aging"]["31-60"] == "18849.60"  # INV-2026-0012, 53 days late
    assert report["paid_on_time"]["total"] > 0
    assert png.read_bytes()[:4] == b"\x89PNG"

    code, out, _ = _run(capsys, "ar", "--as-of", "2026-10-31", "--workspace", DEMO, "--data", data)
    assert "DSO" in out and "usual days to pay" in out


def test_the_installed_command_runs_the_match(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("invoice-agent")
    result = subprocess.run([str(script), "payments", "match", "--workspace", DEMO, "--json"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 18
