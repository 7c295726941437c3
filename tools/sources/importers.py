"""CSV importers of each tracker's own detailed export, into time_entries.csv.

    Harvest   Reports -> Detailed time -> Export CSV:
              Date,Client,Project,Project Code,Task,Notes,Hours,Hours Rounded,Billable?,Invoiced?,Approved?,
              First Name,Last Name,Roles,Employee?,Billable Rate,Billable Amount,Cost Rate,Cost Amount,Currency,...
    Toggl     Reports -> Detailed -> Download as CSV:
              User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,
              Duration,Tags,Amount (USD)
    Clockify  Reports -> Detailed -> Export -> CSV:
              Project,Client,Description,Task,User,Group,Email,Tags,Billable,Start Date,Start Time,End Date,
              End Time,Duration (h),Duration (decimal),Billable Rate (USD),Billable Amount (USD)

Columns are found by name (order free, extra columns ignored). Hours are exact: Harvest's `Hours` as
written; Toggl's `Duration` and Clockify's `Duration (h)` (HH:MM:SS) through whole seconds. Dates follow
the exporting user's settings: the one format that reads every date of the file is used; when two do
(03/04/2026 is March or April) nothing is guessed and the file is refused until `date_format` says which.
The exports carry no entry ids, so each row's id is a digest of its content (plus its rank among
identical rows): importing the same file twice changes nothing, and a real duplicate stays two rows.

Every row that cannot be read is reported with its file, line and what is wrong; the rest are imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tools.files import MAX_CSV_BYTES, Unreadable, read_text
from tools.sources.base import SourceEntry, hours_from_seconds, seconds_from_hms
from tools.sources.errors import SourceConfigError
from tools.sources.mapping import SourcesMapping
from tools.sources.sync import SyncReport, merge_entries

IMPORT_SYSTEMS = ("harvest", "toggl", "clockify")
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y")
TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M:%S%p", "%I:%M%p")
YES = frozenset({"yes", "y", "true", "1", "はい", "ja", "oui", "sí", "si", "sim"})
NO = frozenset({"no", "n", "false", "0", "いいえ", "nein", "non", "não", "nao"})


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


@dataclass
class ImportResult:
    system: str
    file: str
    rows: int = 0
    entries: list[SourceEntry] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    date_format: str = ""

    def lines(self) -> list[str]:
        lines = [f"{self.file}: {self.rows} row(s), {len(self.entries)} read"
                 + (f" (dates as {self.date_format})" if self.date_format else "")]
        if self.problems:
            lines.append(f"  unreadable ({len(self.problems)}):")
            lines += [f"    {p}" for p in self.problems]
        return lines


@dataclass(frozen=True)
class _Spec:
    """Where each field is in one tracker's export (each a list of accepted column names)."""

    date: tuple[str, ...]
    person: tuple[str, ...]
    project: tuple[str, ...]
    client: tuple[str, ...]
    task: tuple[str, ...]
    notes: tuple[str, ...]
    billable: tuple[str, ...]
    hours: tuple[str, ...] = ()
    duration: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    end_date: tuple[str, ...] = ()
    end: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    approved: tuple[str, ...] = ()
    last_name: tuple[str, ...] = ()


SPECS = {
    "harvest": _Spec(date=("Date",), person=("First Name",), last_name=("Last Name",), project=("Project",),
                     client=("Client",), task=("Task",), notes=("Notes",), billable=("Billable?",), hours=("Hours",),
                     code=("Project Code",), approved=("Approved?",)),
    "toggl": _Spec(date=("Start date", "Start Date"), person=("User", "Member"), email=("Email",),
                   project=("Project",), client=("Client",), task=("Task",), notes=("Description",),
                   billable=("Billable",), duration=("Duration",), start=("Start time", "Start Time"),
                   end_date=("End date", "End Date"), end=("End time", "End Time")),
    "clockify": _Spec(date=("Start Date",), person=("User",), email=("Email",), project=("Project",),
                      client=("Client",), task=("Task",), notes=("Description",), billable=("Billable",),
                      duration=("Duration (h)",), hours=("Duration (decimal)",), start=("Start Time",),
                      end_date=("End Date",), end=("End Time",)),
}
REQUIRED = ("date", "person", "project", "billable")


def read_export(path: Path, system: str, *, date_format: str | None = None) -> ImportResult:
    """Read one export file: the entries it holds and every row that could not be read."""
    if system not in SPECS:
        raise SourceConfigError(system, f"no importer for {system!r}; use one of {', '.join(IMPORT_SYSTEMS)}")
    spec = SPECS[system]
    name = str(path)
    result = ImportResult(system, name)
    text = read_text(Path(path), limit=MAX_CSV_BYTES)  # UTF-8 (BOM or not) or UTF-16 with a BOM (Excel's)
    if isinstance(text, Unreadable):
        result.problems.append(RowProblem(name, text.line or 0, f"the file {text.message}"))
        return result
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        result.problems.append(RowProblem(name, 1, "the file is empty: expected the export's header row"))
        return result
    columns = {h: i for i, h in enumerate(header)}

    def column(names: tuple[str, ...]) -> int | None:
        return next((columns[n] for n in names if n in columns), None)

    where = {key: column(getattr(spec, key)) for key in spec.__dataclass_fields__}
    missing = [" or ".join(getattr(spec, k)) for k in REQUIRED if where[k] is None]
    if where["hours"] is None and where["duration"] is None:
        missing.append(" or ".join(spec.hours + spec.duration))
    if missing:
        result.problems.append(RowProblem(name, 1, f"not a {system} detailed export: no column {', '.join(missing)} "
                                          f"(the header has: {', '.join(header)})"))
        return result

    rows: list[tuple[int, list[str]]] = []
    line = 1
    for cells in reader:
        first_line = line + 1
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        result.rows += 1
        if len(cells) < len(header) and not _total_row(cells):
            result.problems.append(RowProblem(name, first_line, f"{len(cells)} cells, the header has {len(header)}"))
            continue
        if _total_row(cells):
            result.rows -= 1
            continue
        rows.append((first_line, cells))

    date_columns = [i for i in (where["date"], where["end_date"]) if i is not None]
    fmt, problem = _date_format([c[i] for _, c in rows for i in date_columns if i < len(c) and c[i].strip()],
                                date_format)
    if problem:
        result.problems.append(RowProblem(name, 1, problem))
        return result
    result.date_format = fmt
    occurrences: Counter[str] = Counter()
    for number, cells in rows:
        try:
            entry = _entry(system, spec, header, where, cells, fmt, occurrences)
        except _RowError as exc:
            result.problems.append(RowProblem(name, number, str(exc)))
            continue
        result.entries.append(entry)
    result.problems.sort(key=lambda p: p.line)
    return result


def import_export(workspace: Path, path: Path, system: str, mapping: SourcesMapping, *,
                  date_format: str | None = None) -> tuple[ImportResult, SyncReport]:
    """Read an export and merge what could be read into the workspace's time_entries.csv."""
    result = read_export(path, system, date_format=date_format)
    report = merge_entries(workspace, system, result.entries, mapping, mode=f"import of {Path(path).name}")
    return result, report


class _RowError(Exception):
    pass


def _dialect(text: str) -> type[csv.Dialect]:
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)

    class _Export(csv.excel):
        pass

    _Export.delimiter = delimiter
    return _Export


def _total_row(cells: list[str]) -> bool:
    """A "Total" line some exports append."""
    return bool(cells) and cells[0].strip().casefold() in ("total", "totals", "合計")


def _date_format(values: list[str], given: str | None) -> tuple[str, str]:
    if given:
        return given, ""
    if not values:
        return DATE_FORMATS[0], ""
    fits = [f for f in DATE_FORMATS if all(_parse_date(v, f) for v in values)]
    if DATE_FORMATS[0] in fits:
        return DATE_FORMATS[0], ""
    if len(fits) == 1:
        return fits[0], ""
    if len(fits) > 1:
        sample = next(v for v in values if len({_parse_date(v, f) for f in fits}) > 1)
        return "", (f"dates such as {sample!r} read differently as {' or '.join(fits)}: nothing was imported; say "
                    f"which with --date-format (e.g. --date-format '{fits[0]}')")
    best = max(DATE_FORMATS, key=lambda f: sum(1 for v in values if _parse_date(v, f)))
    return best, ""


def _parse_date(text: str, fmt: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        return None


def _parse_time(text: str) -> time | None:
    value = text.strip().upper()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    return None


def _entry(system: str, spec: _Spec, header: list[str], where: dict[str, int | None], cells: list[str], fmt: str,
           occurrences: Counter[str]) -> SourceEntry:
    def cell(key: str) -> str:
        index = where[key]
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def label(key: str) -> str:
        index = where[key]
        names: tuple[str, ...] = getattr(spec, key)
        return header[index] if index is not None else (names[0] if names else key)

    day = _parse_date(cell("date"), fmt)
    if day is None:
        raise _RowError(f"{label('date')}: {cell('date')!r} is not a date as {fmt}")
    person = " ".join(filter(None, (cell("person"), cell("last_name"))))
    if not person:
        raise _RowError(f"{label('person')}: empty, every entry needs the person who logged it")
    billable_text = cell("billable").casefold()
    if billable_text not in YES | NO:
        raise _RowError(f"{label('billable')}: {cell('billable')!r} is neither yes nor no")
    hours = _hours(cell, label)
    if hours < 0:
        raise _RowError(f"{label('hours') if where['hours'] is not None else label('duration')}: negative ({hours})")
    start = end = None
    if cell("start"):
        start = _parse_time(cell("start"))
        if start is None:
            raise _RowError(f"{label('start')}: {cell('start')!r} is not a time")
    if cell("end"):
        end = _parse_time(cell("end"))
        if end is None:
            raise _RowError(f"{label('end')}: {cell('end')!r} is not a time")
        if cell("end_date") and _parse_date(cell("end_date"), fmt) != day:
            start = end = None  # crosses midnight: hours stay, times go
    approved = cell("approved").casefold()
    content = "\x1f".join((system, day.isoformat(), person, cell("client"), cell("project"), cell("task"),
                           cell("notes"), str(hours), cell("start"), cell("end"), billable_text))
    occurrences[content] += 1
    digest = hashlib.sha256(f"{content}\x1f{occurrences[content]}".encode()).hexdigest()[:16]
    return SourceEntry(
        system=system,
        source_id=f"csv-{digest}",
        date=day,
        person=person,
        person_keys=(cell("email"),) if cell("email") else (),
        project_id="",
        project_name=cell("project"),
        project_code=cell("code"),
        client_name=cell("client"),
        task=cell("task"),
        notes=cell("notes"),
        hours=hours,
        billable=billable_text in YES,
        start=start,
        end=end if start else None,
        approved=(approved in YES) if approved in YES | NO else None,
    )


def _hours(cell: Callable[[str], str], label: Callable[[str], str]) -> Decimal:
    duration = cell("duration")
    if duration:
        seconds = seconds_from_hms(duration)
        if seconds is None:
            raise _RowError(f"{label('duration')}: {duration!r} is not a duration HH:MM:SS")
        return hours_from_seconds(seconds)
    text = cell("hours").replace(",", ".") if cell("hours").count(",") == 1 and "." not in cell("hours") \
        else cell("hours")
    if not text:
        raise _RowError(f"{label('hours')}: empty")
    try:
        hours = Decimal(text)
    except InvalidOperation:
        raise _RowError(f"{label('hours')}: {text!r} is not a number of hours") from None
    if not hours.is_finite():
        raise _RowError(f"{label('hours')}: {text!r} is not a number of hours")
    return hours
