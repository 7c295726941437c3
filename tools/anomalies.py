"""Anomaly checks on time entries: each kind a small named check that explains itself to a reviewer.

Every check is a pure function over the whole list of entries (duplicates, overlaps and long days need
the neighbours), returns `Anomaly` values, and never raises on bad data. Only billable entries carry
anomalies. Checks against the task log live in `tools.reconcile`; what makes a note vague, in
`tools.vagueness`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from tools.domain import ANOMALY_KINDS, Anomaly, AnomalyKind, Task, TimeEntry
from tools.money import ZERO
from tools.reconcile import TaskIndex, check_task_refs
from tools.vagueness import VagueNotes
from tools.vagueness import is_vague as is_vague  # the general rule, where callers have always found it

MAX_DAY_HOURS = Decimal(12)
MAX_ENTRY_HOURS = Decimal(24)


def _clean_notes(notes: str) -> str:
    return " ".join(notes.lower().split())


def _description_problem(notes: str, vague: Callable[[str], bool]) -> AnomalyKind | None:
    if not notes.strip():
        return "missing_description"
    return "vague_description" if vague(notes) else None


def check_descriptions(entries: Iterable[TimeEntry], vague: VagueNotes | None = None) -> list[Anomaly]:
    """`missing_description` for empty notes, `vague_description` for notes that say nothing.

    `vague` is what a firm's history taught (`VagueNotes.learn`); without it, the general rule alone.
    """
    judge = vague.is_vague if vague is not None else is_vague
    found = []
    problems: dict[str, AnomalyKind | None] = {}  # notes repeat endlessly: each text is judged once
    for e in entries:
        if e.notes not in problems:
            problems[e.notes] = _description_problem(e.notes, judge)
        kind = problems[e.notes]
        if kind == "missing_description":
            found.append(Anomaly(entry_id=e.id, kind=kind,
                                 message="no description: the client would see a line with no explanation"))
        elif kind == "vague_description":
            found.append(Anomaly(entry_id=e.id, kind=kind,
                                 message=f"notes {e.notes.strip()!r} do not say what work was done"))
    return found


def find_duplicates(entries: Iterable[TimeEntry]) -> dict[str, TimeEntry]:
    """Map each later copy's id to the earlier row (in file order) it repeats."""
    first: dict[tuple[object, ...], TimeEntry] = {}
    copies: dict[str, TimeEntry] = {}
    cleaned: dict[str, str] = {}  # notes repeat endlessly: each text is folded once
    for e in entries:
        notes = cleaned.get(e.notes)
        if notes is None:
            notes = cleaned[e.notes] = _clean_notes(e.notes)
        key = (e.person, e.client, e.date, e.hours, notes, e.start, e.end, e.project_code, e.task, e.task_ref)
        original = first.setdefault(key, e)
        if original is not e:
            copies[e.id] = original
    return copies


def check_duplicates(copies: dict[str, TimeEntry]) -> list[Anomaly]:
    """The later copy of a repeated row is held; the first stays clean."""
    return [
        Anomaly(entry_id=copy_id, kind="duplicate",
                message=f"duplicate of entry {original.id}: same person, date, hours and notes")
        for copy_id, original in copies.items()
    ]


def _interval(e: TimeEntry) -> tuple[datetime, datetime] | None:
    if e.start is None or e.end is None:
        return None
    start = datetime.combine(e.date, e.start)
    end = datetime.combine(e.date, e.end)
    if end <= start:  # ran past midnight
        end += timedelta(days=1)
    return start, end


def check_overlaps(entries: Iterable[TimeEntry], copies: dict[str, TimeEntry]) -> list[Anomaly]:
    """Two timed entries of one person and date whose [start, end) intersect: both are flagged."""
    days: dict[tuple[str, date], list[tuple[datetime, datetime, TimeEntry]]] = defaultdict(list)
    for e in entries:
        if e.start is None or e.end is None:  # most entries are untimed
            continue
        span = _interval(e)
        if span is not None and e.id not in copies:
            days[(e.person, e.date)].append((*span, e))
    found: dict[str, Anomaly] = {}
    for timed in days.values():
        timed.sort(key=lambda t: (t[0], t[2].row))
        for i, (start, end, e) in enumerate(timed):
            for other_start, other_end, other in timed[i + 1 :]:
                if other_start >= end:
                    break
                if other_start < end and start < other_end:
                    for a, b in ((e, other), (other, e)):
                        found.setdefault(a.id, Anomaly(
                            entry_id=a.id, kind="overlap",
                            message=f"{a.start:%H:%M}-{a.end:%H:%M} overlaps entry {b.id} "
                            f"({b.start:%H:%M}-{b.end:%H:%M}) of {a.person} on {a.date}"))
    return list(found.values())


def _valid_hours(e: TimeEntry) -> bool:
    return ZERO < e.hours <= MAX_ENTRY_HOURS


def check_excessive_days(entries: Sequence[TimeEntry], copies: dict[str, TimeEntry]) -> list[Anomaly]:
    """Every entry of a person-day whose hours (without invalid ones and duplicate copies) exceed 12."""
    # Each person-day's hours first, then the entries of the few long days (days in order of first
    # appearance, entries in file order): cheaper than keeping every day's entries.
    hours: dict[tuple[str, date], Decimal] = {}
    for e in entries:
        day = (e.person, e.date)
        total = hours.setdefault(day, ZERO)
        if _valid_hours(e) and e.id not in copies:
            hours[day] = total + e.hours
    long_days: dict[tuple[str, date], list[TimeEntry]] = {day: [] for day, h in hours.items() if h > MAX_DAY_HOURS}
    if long_days:
        for e in entries:
            group = long_days.get((e.person, e.date))
            if group is not None:
                group.append(e)
    return [
        Anomaly(entry_id=e.id, kind="excessive_day",
                message=f"{person} logged {hours[(person, day)]} h on {day}, more than {MAX_DAY_HOURS} h in one day")
        for (person, day), group in long_days.items()
        for e in group
    ]


def check_weekend(entries: Iterable[TimeEntry]) -> list[Anomaly]:
    """Entries dated on a Saturday or Sunday are billed but worth a look."""
    return [
        Anomaly(entry_id=e.id, kind="weekend", message=f"dated {e.date:%A} {e.date}")
        for e in entries
        if e.date.weekday() >= 5
    ]


def check_future_date(entries: Iterable[TimeEntry], as_of: date) -> list[Anomaly]:
    """Entries dated after the run's as-of date (usually a year typo) are held."""
    return [
        Anomaly(entry_id=e.id, kind="future_date",
                message=f"dated {e.date}, after the as-of date {as_of}: a typo in the year or month?")
        for e in entries
        if e.date > as_of
    ]


def check_invalid_hours(entries: Iterable[TimeEntry]) -> list[Anomaly]:
    """Hours of zero or less, or more than 24, cannot be billed as typed."""
    return [
        Anomaly(entry_id=e.id, kind="invalid_hours",
                message=f"{e.hours} hours: an entry must be more than 0 and at most {MAX_ENTRY_HOURS} hours")
        for e in entries
        if not _valid_hours(e)
    ]


_KIND_ORDER = {kind: i for i, kind in enumerate(ANOMALY_KINDS)}


def detect_anomalies(
    entries: list[TimeEntry], tasks: list[Task] | TaskIndex, as_of: date, vague: VagueNotes | None = None
) -> dict[str, list[Anomaly]]:
    """Run every entry check over the whole workspace; map each billable entry's id to its anomalies.

    Physical checks (duplicates, overlaps, long days) look at every row, billable or not, since a person
    cannot be in two places at once; only billable entries carry the result. `vague` judges notes as a
    firm's history taught (`VagueNotes.learn(workspace)`); None uses the general rule alone.
    """
    copies = find_duplicates(entries)
    checks: list[Callable[[], list[Anomaly]]] = [
        lambda: check_descriptions(entries, vague),
        lambda: check_duplicates(copies),
        lambda: check_overlaps(entries, copies),
        lambda: check_excessive_days(entries, copies),
        lambda: check_task_refs(entries, tasks),
        lambda: check_weekend(entries),
        lambda: check_future_date(entries, as_of),
        lambda: check_invalid_hours(entries),
    ]
    billable = {e.id for e in entries if e.billable}
    found: dict[str, list[Anomaly]] = defaultdict(list)
    for check in checks:
        for anomaly in check():
            if anomaly.entry_id in billable:
                found[anomaly.entry_id].append(anomaly)
    for anomalies in found.values():
        anomalies.sort(key=lambda a: _KIND_ORDER[a.kind])
    return dict(found)
