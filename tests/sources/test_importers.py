"""CSV exports of Harvest, Toggl and Clockify → time_entries.csv, with every unreadable row reported."""

from __future__ import annotations

import csv
from datetime import date, time
from decimal import Decimal
from pathlib import Path

from tests.sources.fakes import FIXTURES
from tools.sources.importers import import_export, read_export
from tools.sources.mapping import load_mapping
from tools.workspace import load_workspace

HARVEST_HEADER = ("Date,Client,Project,Project Code,Task,Notes,Hours,Hours Rounded,Billable?,Invoiced?,Approved?,"
                  "First Name,Last Name,Roles,Employee?,Billable Rate,Billable Amount,Cost Rate,Cost Amount,Currency,"
                  "External Reference URL")
CLOCKIFY_HEADER = (FIXTURES / "clockify" / "detailed_report_export_header.csv").read_text(encoding="utf-8").strip()


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(workspace: Path) -> dict[str, dict[str, str]]:
    with open(workspace / "time_entries.csv", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def test_harvest_export_is_imported_and_bad_rows_are_reported_by_line(tiny: Path, tmp_path: Path) -> None:
    export = _write(
        tmp_path / "harvest_time_report.csv", HARVEST_HEADER,
        "2026-03-09,Acme Industries,Website,ACM.WEB,Design,Checkout wireframes,1.25,1.25,Yes,No,Yes,Ann,Lee,"
        "Designer,Yes,150,187.50,60,75,British Pound - GBP,",
        "2026-03-10,Acme Industries,Website,ACM.WEB,Development,\"Cart API, tests\",0.2,0.25,No,No,No,Bob,Roe,,Yes,"
        "100,0,40,8,British Pound - GBP,",
        "2026-03-10,Acme Industries,Website,ACM.WEB,Design,Logo,one,1,Yes,No,No,Ann,Lee,,Yes,150,0,0,0,GBP,",
        "2026-13-10,Acme Industries,Website,ACM.WEB,Design,Logo,1,1,Yes,No,No,Ann,Lee,,Yes,150,0,0,0,GBP,",
        "2026-03-11,Acme Industries,Website,ACM.WEB,Design,Logo,1,1,Perhaps,No,No,Ann,Lee,,Yes,150,0,0,0,GBP,",
        "2026-03-11,Acme Industries,Website",
        "2026-03-12,Other Co,Intranet,OTH,Design,Logo,2,2,Yes,No,No,Ann,Lee,,Yes,150,0,0,0,GBP,",
    )
    (tiny / "sources.yaml").write_text("harvest:\n  projects:\n    Website: {client: acme}\n")
    result, report = import_export(tiny, export, "harvest", load_mapping(tiny))
    assert result.rows == 7 and len(result.entries) == 3
    assert [str(p) for p in result.problems] == [
        f"{export}:4: Hours: 'one' is not a number of hours",
        f"{export}:5: Date: '2026-13-10' is not a date as %Y-%m-%d",
        f"{export}:6: Billable?: 'Perhaps' is neither yes nor no",
        f"{export}:7: 3 cells, the header has 21",
    ]
    assert len(report.added) == 2 and [u.project_name for u in report.unmapped] == ["Intranet"]
    rows = [r for r in _rows(tiny).values() if r.get("source") == "harvest"]
    first = next(r for r in rows if r["date"] == "2026-03-09")
    assert {k: first[k] for k in ("person", "client", "project_code", "task", "notes", "hours", "billable",
                                  "source_approved")} == {
        "person": "Ann Lee", "client": "acme", "project_code": "ACM.WEB", "task": "Design",
        "notes": "Checkout wireframes", "hours": "1.25", "billable": "true", "source_approved": "true"}
    assert first["id"].startswith("harvest-csv-")
    entries = {e.id: e for e in load_workspace(tiny).entries}
    assert entries[first["id"]].hours == Decimal("1.25")

    _, again = import_export(tiny, export, "harvest", load_mapping(tiny))
    assert again.added == [] and again.unchanged == 2  # the same file twice changes nothing


def test_the_real_toggl_export_is_read_with_its_durations_and_localised_billable(tmp_path: Path) -> None:
    result = read_export(FIXTURES / "toggl" / "detailed_report_export.csv", "toggl")
    assert result.problems == [] and len(result.entries) == 2
    sleep, quiz = result.entries
    assert (sleep.date, sleep.person, sleep.client_name, sleep.project_name, sleep.notes) == (
        date(2014, 6, 23), "ちぃといつ", "第3領域", "生活", "睡眠")
    assert (sleep.hours, sleep.billable, sleep.start, sleep.end) == (Decimal(8), False, time(0, 0), time(8, 0))
    assert quiz.hours == Decimal(12) and quiz.person_keys == ("person2@example.com",)


def test_toggl_rows_that_cannot_be_read_are_listed(tmp_path: Path, tiny: Path) -> None:
    header = (FIXTURES / "toggl" / "detailed_report_export.csv").read_text(encoding="utf-8").splitlines()[0]
    export = _write(
        tmp_path / "toggl.csv", header,
        "Ann Lee,ann@tiny.example,Acme,Website,,Homepage copy,Yes,2026-03-16,09:00:00,2026-03-16,10:20:00,01:20:00,,",
        "Ann Lee,ann@tiny.example,Acme,Website,,Homepage copy,Yes,2026-03-16,10:20:00,2026-03-16,11:00:00,forty,,",
        ",ann@tiny.example,Acme,Website,,Nobody,Yes,2026-03-16,12:00:00,2026-03-16,13:00:00,01:00:00,,",
        "Ann Lee,ann@tiny.example,Acme,Website,,Late,Yes,2026-03-16,25:00:00,2026-03-16,13:00:00,01:00:00,,",
    )
    (tiny / "sources.yaml").write_text("toggl:\n  clients: {Acme: acme}\n")
    result, _ = import_export(tiny, export, "toggl", load_mapping(tiny))
    assert [str(p).split(": ", 1)[1] for p in result.problems] == [
        "Duration: 'forty' is not a duration HH:MM:SS",
        "User: empty, every entry needs the person who logged it",
        "Start time: '25:00:00' is not a time",
    ]
    [row] = [r for r in _rows(tiny).values() if r.get("source") == "toggl"]
    assert (row["hours"], row["start"], row["end"]) == ("1.333333", "09:00", "10:20")


def test_clockify_export_with_us_dates_and_12_hour_times(tmp_path: Path, tiny: Path) -> None:
    export = _write(
        tmp_path / "Clockify_Time_Report_Detailed.csv", CLOCKIFY_HEADER,
        "Website,Beta GmbH,Auth flow,Development,Bob Roe,,bob@tiny.example,,Yes,03/23/2026,01:00:00 PM,03/23/2026,"
        "02:30:00 PM,01:30:00,1.50,90.00,135.00",
        "Website,Beta GmbH,Review,Development,Bob Roe,,bob@tiny.example,,No,03/24/2026,09:00:00 AM,03/24/2026,"
        "09:06:00 AM,00:06:00,0.10,90.00,0.00",
    )
    (tiny / "sources.yaml").write_text("clockify:\n  clients: {Beta GmbH: beta}\n")
    result, report = import_export(tiny, export, "clockify", load_mapping(tiny))
    assert result.problems == [] and result.date_format == "%m/%d/%Y" and len(report.added) == 2
    rows = sorted((r for r in _rows(tiny).values() if r.get("source") == "clockify"), key=lambda r: r["date"])
    assert [(r["date"], r["start"], r["end"], r["hours"], r["billable"]) for r in rows] == [
        ("2026-03-23", "13:00", "14:30", "1.5", "true"), ("2026-03-24", "09:00", "09:06", "0.1", "false")]
    load_workspace(tiny)


def test_ambiguous_dates_are_not_guessed(tmp_path: Path) -> None:
    export = _write(
        tmp_path / "clockify.csv", CLOCKIFY_HEADER,
        "Website,Beta GmbH,Auth,Dev,Bob Roe,,,,Yes,03/04/2026,09:00,03/04/2026,10:00,01:00:00,1.00,90,90",
        "Website,Beta GmbH,Auth,Dev,Bob Roe,,,,Yes,05/04/2026,09:00,05/04/2026,10:00,01:00:00,1.00,90,90",
    )
    refused = read_export(export, "clockify")
    assert refused.entries == []
    [problem] = refused.problems
    assert problem.line == 1 and "'03/04/2026' read differently as %m/%d/%Y or %d/%m/%Y" in problem.what
    assert "--date-format" in problem.what
    chosen = read_export(export, "clockify", date_format="%d/%m/%Y")
    assert [e.date for e in chosen.entries] == [date(2026, 4, 3), date(2026, 4, 5)]


def test_a_file_that_is_not_the_export_says_so(tmp_path: Path) -> None:
    export = _write(tmp_path / "x.csv", "when,who,what", "2026-03-01,Ann,design")
    [problem] = read_export(export, "harvest").problems
    assert problem.line == 1 and "not a harvest detailed export: no column Date, First Name, Project" in problem.what
