"""Bounds on what a workspace may hold: numbers no invoice comes near, YAML that expands without end, files
too large to be the right file. Each is refused when the workspace loads, by file, line and field, so that
nothing breaks later (formatting a draft, computing a due date) and nothing is loaded half."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.tools.workspaces import copy_tiny, problems, replace
from tools.errors import WorkspaceError
from tools.workspace import load_workspace

PLAIN = "write a plain decimal such as 1250.00 (no exponent, NaN, Infinity or _)"
INVOICES_HEADER = ("invoice_number,client,period_start,period_end,issue_date,due_date,currency,line_no,description,"
                   "category,quantity,unit_price,amount,subtotal,tax,total,status,paid_date")
INVOICE_ROW = ("TS-2026-0001,acme,2026-02-01,2026-02-28,2026-03-01,2026-03-31,GBP,1,Design,design,"
               "{q},{p},{a},{a},0,{a},paid,")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return copy_tiny(tmp_path)


# --- numbers --------------------------------------------------------------------------------------


def test_hours_of_1e30_are_refused_at_load_naming_the_row_instead_of_breaking_the_run(tiny: Path) -> None:
    replace(tiny / "time_entries.csv", "build product page,2.0,", "build product page,1e30,")

    assert problems(tiny) == [f"time_entries.csv:3 [hours]: {PLAIN} (got '1e30')"]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("NaN", PLAIN),
        ("-Infinity", PLAIN),
        ("2E+0", PLAIN),
        ("1_000", PLAIN),
        ("2.0000001", "has 7 decimal places; at most 6 are allowed"),
        ("100000", "beyond any plausible value: must be between -10000 and 10000 hours"),
        ("-100000", "beyond any plausible value: must be between -10000 and 10000 hours"),
        ("99999999:00", "beyond any plausible value: must be between -10000 and 10000 hours"),
    ],
)
def test_hours_that_no_person_logs_are_refused_with_what_is_allowed(tiny: Path, hours: str, message: str) -> None:
    replace(tiny / "time_entries.csv", "build product page,2.0,", f"build product page,{hours},")

    assert problems(tiny) == [f"time_entries.csv:3 [hours]: {message} (got '{hours}')"]


def test_a_day_of_100_hours_still_loads_to_be_held_while_a_year_of_them_is_refused(tiny: Path) -> None:
    replace(tiny / "time_entries.csv", "build product page,2.0,", "build product page,100.123456,")
    assert load_workspace(tiny).entries[1].hours == Decimal("100.123456")  # held later, as invalid_hours

    replace(tiny / "time_entries.csv", "build product page,100.123456,", "build product page,10000.5,")
    assert problems(tiny) == [
        "time_entries.csv:3 [hours]: beyond any plausible value: must be between -10000 and 10000 hours "
        "(got '10000.5')"
    ]


def test_rates_amounts_and_tax_in_clients_yaml_are_refused_beyond_a_billion_or_when_not_plain(tiny: Path) -> None:
    clients = tiny / "clients.yaml"
    replace(clients, 'default: "100.00"', "default: 1e30")
    replace(clients, 'by_role: {senior: "150.00"}', 'by_role: {senior: "NaN"}')
    replace(clients, 'cap: {amount: "650.00"}', "cap: {amount: 1000000000.01}")
    replace(clients, 'tax_rate: "0.19"', 'tax_rate: "0.1900000"')
    replace(clients, 'retainer: {amount: "1000.00"', 'retainer: {amount: 99999999999999999999999')

    assert problems(tiny) == [
        f"clients.yaml:12 [clients.0.rates.default]: {PLAIN} (got '1e30')",
        f"clients.yaml:13 [clients.0.rates.by_role.senior]: {PLAIN} (got 'NaN')",
        "clients.yaml:23 [clients.0.rules.4.cap.amount]: beyond any plausible value: must be between "
        "-1000000000 and 1000000000 (got '1000000000.01')",
        "clients.yaml:28 [clients.1.tax_rate]: has 7 decimal places; at most 6 are allowed (got '0.1900000')",
        "clients.yaml:33 [clients.1.billing.retainer.amount]: beyond any plausible value: must be between "
        "-1000000000 and 1000000000 (got 99999999999999999999999)",
    ]


def test_amounts_in_invoices_payments_and_tasks_are_refused_beyond_a_billion_or_when_not_plain(
    tiny: Path,
) -> None:
    (tiny / "invoices.csv").write_text(
        "\n".join([INVOICES_HEADER, INVOICE_ROW.format(q="1.5", p="100.00", a="150.00"),
                   INVOICE_ROW.replace(",1,", ",2,").format(q="1e3", p="100.00", a="-2000000000.00")]) + "\n")
    (tiny / "payments.csv").write_text("id,date,amount,currency,payer,reference\n"
                                       "p1,2026-03-20,Infinity,GBP,Acme,TS-2026-0001\n")
    replace(tiny / "tasks.csv", "Homepage redesign sign-off,done,2026-03-20,,", "Homepage redesign sign-off,done,"
            "2026-03-20,5000000000,")

    found = problems(tiny)

    assert f"invoices.csv:3 [quantity]: {PLAIN} (got '1e3')" in found
    for field in ("amount", "subtotal", "total"):
        assert (f"invoices.csv:3 [{field}]: beyond any plausible value: must be between -1000000000 and 1000000000 "
                "(got '-2000000000.00')") in found
    assert f"payments.csv:2 [amount]: {PLAIN} (got 'Infinity')" in found
    assert ("tasks.csv:2 [milestone_amount]: beyond any plausible value: must be between -1000000000 and "
            "1000000000 (got '5000000000')") in found


def test_payment_terms_and_reminders_beyond_ten_years_are_refused_before_a_due_date_overflows(tiny: Path) -> None:
    replace(tiny / "clients.yaml", "payment_terms_days: 14", "payment_terms_days: 100000000")
    replace(tiny / "workspace.yaml", "after_due_days: [7]", "after_due_days: [7, 99999999999]")

    assert problems(tiny) == [
        "workspace.yaml:17 [reminders.after_due_days.1]: Input should be less than or equal to 3650 "
        "(got 99999999999)",
        "clients.yaml:29 [clients.1.payment_terms_days]: Input should be less than or equal to 3650 (got 100000000)",
    ]


# --- YAML that expands, and files too large -------------------------------------------------------


def billion_laughs() -> str:
    """Nine levels of nine aliases: 9^9 (387 million) strings from a few hundred bytes."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_in_clients_yaml_is_refused_naming_the_file(tiny: Path) -> None:
    clients = tiny / "clients.yaml"
    clients.write_text(billion_laughs() + clients.read_text())

    assert problems(tiny) == [
        'clients.yaml: expands to more than 1,000,000 values through its aliases (*name), like a "billion laughs" '
        "attack; write the values out instead of nesting aliases"
    ]


def test_an_alias_inside_its_own_anchor_is_refused(tiny: Path) -> None:
    replace(tiny / "clients.yaml", 'aliases: ["Acme"]', "aliases: &loop [*loop]")

    assert problems(tiny) == [
        "clients.yaml: an alias refers to the anchor it is inside of (line 4); a value cannot contain itself"
    ]


def test_rates_shared_by_aliases_load_but_more_than_a_thousand_aliases_are_refused(tiny: Path) -> None:
    clients = tiny / "clients.yaml"
    replace(clients, 'default: "100.00"', 'default: &standard "100.00"')
    replace(clients, 'default: "90.00"', "default: *standard")
    assert load_workspace(tiny).client("beta").rates.default == Decimal("100.00")

    with clients.open("a") as f:
        f.write(f"x-spare: [{', '.join(['*standard'] * 1000)}]\n")
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tiny)
    assert [str(i) for i in caught.value.issues] == [
        "clients.yaml: uses more than 1,000 aliases (*name); write the values out instead"
    ]


def test_a_yaml_file_over_10_mb_is_refused_before_it_is_read(tiny: Path) -> None:
    with (tiny / "clients.yaml").open("a") as f:
        f.write(("#" * 1023 + "\n") * 10 * 1024)

    assert problems(tiny) == [
        "clients.yaml: is 10.1 MB, more than the 10 MB such a file may hold: is it the right file?"
    ]


def test_a_csv_file_over_the_limit_is_refused_by_name(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tools.workspace.MAX_CSV_BYTES", 1000)  # people.csv and tasks.csv are smaller

    assert problems(tiny) == [
        "time_entries.csv: is 1170 bytes, more than the 1000 bytes such a file may hold: is it the right file?"
    ]
