"""Bringing source records into a workspace: time_entries.csv and tasks.csv, merged, atomically.

Each source record becomes one row whose id keeps the source's id (`harvest-933384584`, Jira `EX-12`,
`asana-1204...`) and which carries four more columns (the loader ignores unknown columns):
`source`, `source_id`, `source_project`, `source_status` ("" or "deleted"), plus `source_approved`
(time entries: the tracker's timesheet approval) or `source_stage` (tasks: section or status). Rows
from anywhere else (typed by hand, another import) are kept exactly as they are.

    sync_time(workspace, source, mapping, start=..., end=...)   Harvest / Toggl / Clockify
    sync_tasks(workspace, source, mapping)                       Asana / ClickUp / Jira
    merge_entries(...) / merge_tasks(...)                        records from a CSV import or a webhook

A sync is incremental: the time it started is stored as the cursor (`<workspace>/.sources/state.json`)
and the next one asks only for what changed since (minus a few minutes of overlap); `full=True`, the
first sync, and Clockify (which has no such filter) read the whole window. Deletions are noticed three
ways: the source says so (Toggl's `since` returns deleted entries); a complete window read lacks an entry
this source wrote before; or the source's count for the window (Harvest `total_entries`) differs from
what is known here, which triggers a complete read. A deleted record's row is *flagged*, not removed:
`source_status` becomes "deleted", an entry turns non-billable (so no draft bills it) and a task loses
its milestone amount; its notes say so, and an invoice that already billed it still resolves.

Records of an unmapped project are not written (they are listed in the report, with the command that
maps them); a record the workspace would reject (e.g. negative hours) is listed as a problem and skipped.
Writes go to a temporary file renamed over the old one, under a lock, so a reader (a run drafting) sees
the old file or the new one, and two syncs never interleave.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from tools.domain import Issue, Task, TimeEntry
from tools.errors import WorkspaceError
from tools.files import MAX_CSV_BYTES, MAX_YAML_BYTES, Unreadable, read_text, write_atomic
from tools.sources.base import EntryBatch, SourceEntry, SourceTask, TaskSource, TimeSource, plain
from tools.sources.errors import SourceRequestError, system_name
from tools.sources.mapping import (
    ProjectLink,
    SourcesMapping,
    SystemMapping,
    Unmapped,
    note_unmapped,
)

ENTRY_COLUMNS = ("id", "date", "person", "client", "project_code", "task", "notes", "hours", "start", "end",
                 "billable", "task_ref")
TASK_COLUMNS = ("id", "client", "project_code", "title", "status", "completed_at", "milestone_amount", "assignee")
ENTRY_SOURCE_COLUMNS = ("source", "source_id", "source_project", "source_status", "source_approved")
TASK_SOURCE_COLUMNS = ("source", "source_id", "source_project", "source_status", "source_stage")
STATE_DIR = ".sources"
OVERLAP = timedelta(minutes=5)
"""Asked again on each incremental sync: clocks differ, and a change may land while a sync reads."""


# ----------------------------------------------------------------------------------------------------
# The report


@dataclass
class SyncReport:
    system: str
    kind: Literal["entries", "tasks"]
    mode: str = ""
    fetched: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    """The rows written or flagged by this sync, by id (what a trigger looks at)."""

    @property
    def complete(self) -> bool:
        """Nothing was left out: no unmapped project, no unreadable record."""
        return not self.unmapped and not self.problems

    def lines(self) -> list[str]:
        name = system_name(self.system)
        what = "entries" if self.kind == "entries" else "tasks"
        head = (f"{name}: {self.fetched} {what} read ({self.mode}); {len(self.added)} added, "
                f"{len(self.updated)} updated, {self.unchanged} unchanged, {len(self.deleted)} flagged deleted")
        lines = [head]
        lines += [f"  note: {note}" for note in self.notes]
        if self.deleted:
            shown = ", ".join(self.deleted[:10]) + (" ..." if len(self.deleted) > 10 else "")
            lines.append(f"  deleted in {name} (kept, flagged, no longer billable): {shown}")
        lines += [f"  skipped: {s}" for s in self.skipped]
        if self.unmapped:
            lines.append(f"  not written, project not mapped to a client ({len(self.unmapped)}):")
            lines += [f"    {u.describe()}" for u in self.unmapped]
        if self.problems:
            lines.append(f"  not written, unreadable ({len(self.problems)}):")
            lines += [f"    {p}" for p in self.problems]
        return lines


# ----------------------------------------------------------------------------------------------------
# Files: a CSV table kept as it is, a lock, the cursors


class Table:
    """One workspace CSV read as ordered rows by id; unknown columns and other rows are kept as they are."""

    def __init__(self, path: Path, columns: tuple[str, ...], extra: tuple[str, ...]) -> None:
        self.path = path
        self.rows: dict[str, dict[str, str]] = {}
        self.header: list[str] = []
        self.changed = False
        if path.is_file():
            text = read_text(path, limit=MAX_CSV_BYTES)
            if isinstance(text, Unreadable):  # nothing is merged into a file that cannot be read whole
                raise WorkspaceError(str(path.parent), [Issue(file=path.name, line=text.line, message=text.message)])
            reader = csv.DictReader(io.StringIO(text, newline=""))
            self.header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = self.header
            for number, row in enumerate(reader, start=2):
                key = (row.get("id") or "").strip() or f"\0line{number}"  # a row without id stays, untouched
                self.rows[key] = {k: (v if v is not None else "") for k, v in row.items() if k is not None}
        self.header += [c for c in (*columns, *extra) if c not in self.header]

    def upsert(self, row: dict[str, str]) -> Literal["added", "updated", "unchanged"]:
        old = self.rows.get(row["id"])
        if old is None:
            self.rows[row["id"]] = row
            self.changed = True
            return "added"
        if all(old.get(k, "") == v for k, v in row.items()):
            return "unchanged"
        old.update(row)
        self.changed = True
        return "updated"

    def of_source(self, system: str) -> Iterator[dict[str, str]]:
        return (row for row in self.rows.values() if row.get("source") == system)

    def save(self) -> None:
        if not self.changed:
            return
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in self.rows.values():
            writer.writerow({k: row.get(k, "") for k in self.header})
        write_atomic(self.path, out.getvalue())
        self.changed = False


@contextlib.contextmanager
def workspace_lock(workspace: Path) -> Iterator[None]:
    """One writer at a time on a workspace's entries and tasks (an advisory lock file; POSIX flock)."""
    folder = Path(workspace) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "sync.lock", "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class SyncState:
    """Per source: the cursor (when the last sync started) and entries read but not written (unmapped,
    running), whose count the source includes in its own."""

    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / STATE_DIR / "state.json"
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            with contextlib.suppress(ValueError):
                self.data = json.loads(self.path.read_text(encoding="utf-8"))

    def cursor(self, system: str) -> datetime | None:
        text = self.data.get(system, {}).get("cursor")
        return datetime.fromisoformat(text) if text else None

    def set_cursor(self, system: str, when: datetime) -> None:
        self.data.setdefault(system, {})["cursor"] = when.astimezone(UTC).isoformat()

    def mapping_changed(self, system: str, mapping: SystemMapping) -> bool:
        """Whether this source's mapping differs from the last sync's (records once skipped may now belong)."""
        digest = hashlib.sha256(mapping.model_dump_json().encode()).hexdigest()
        entry = self.data.setdefault(system, {})
        changed: bool = entry.get("mapping") != digest
        entry["mapping"] = digest
        return changed

    def skipped(self, system: str) -> dict[str, str]:
        skipped: dict[str, str] = self.data.setdefault(system, {}).setdefault("skipped", {})
        return skipped

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


def client_ids(workspace: Path) -> set[str]:
    """The client ids of clients.yaml (read on its own: a sync need not load every entry)."""
    path = Path(workspace) / "clients.yaml"
    text = read_text(path, limit=MAX_YAML_BYTES)
    try:
        data = (yaml.safe_load(text) or {}) if isinstance(text, str) else {}
    except yaml.YAMLError:
        return set()
    clients = data.get("clients") if isinstance(data, dict) else None
    return {str(c["id"]) for c in clients or [] if isinstance(c, dict) and c.get("id") is not None}


# ----------------------------------------------------------------------------------------------------
# Time entries


def entry_row(entry: SourceEntry, link: ProjectLink, people: SystemMapping) -> dict[str, str]:
    return {
        "id": entry.row_id,
        "date": entry.date.isoformat(),
        "person": people.person(entry.person, *entry.person_keys),
        "client": link.client,
        "project_code": link.project_code or entry.project_code or entry.project_name,
        "task": entry.task,
        "notes": " ".join(entry.notes.split()),
        "hours": plain(entry.hours),
        "start": entry.start.strftime("%H:%M") if entry.start else "",
        "end": entry.end.strftime("%H:%M") if entry.end else "",
        "billable": "true" if entry.billable else "false",
        "task_ref": entry.task_ref or "",
        "source": entry.system,
        "source_id": entry.source_id,
        "source_project": entry.project_id,
        "source_status": "",
        "source_approved": "" if entry.approved is None else ("true" if entry.approved else "false"),
    }


class _EntryMerge:
    def __init__(self, workspace: Path, system: str, mapping: SourcesMapping, report: SyncReport,
                 state: SyncState | None) -> None:
        self.system = system
        self.mapping = mapping.system(system)
        self.clients = client_ids(workspace)
        self.table = Table(Path(workspace) / "time_entries.csv", ENTRY_COLUMNS, ENTRY_SOURCE_COLUMNS)
        self.report = report
        self.skipped = state.skipped(system) if state is not None else {}
        self.unmapped: dict[tuple[str, str], Unmapped] = {}
        self.running = 0

    def add(self, entries: Iterable[SourceEntry]) -> set[str]:
        """Upsert mapped entries; return the source ids seen (written or not)."""
        seen: set[str] = set()
        for entry in entries:
            seen.add(entry.source_id)
            self.report.fetched += 1
            if entry.running:
                self.running += 1
                self.skipped[entry.source_id] = entry.date.isoformat()
                continue
            link = self.mapping.link(project_id=entry.project_id, project_name=entry.project_name,
                                     client_id=entry.client_id, client_name=entry.client_name)
            if link is None:
                note_unmapped(self.unmapped, self.system, entry.project_id, entry.project_name, entry.client_name)
                self.skipped[entry.source_id] = entry.date.isoformat()
                continue
            self.skipped.pop(entry.source_id, None)
            self.write(entry_row(entry, link, self.mapping), f"{system_name(self.system)} entry {entry.source_id} "
                       f"({entry.date}, {entry.person})")
        return seen

    def write(self, row: dict[str, str], what: str) -> None:
        if row["client"] not in self.clients:
            self.report.problems.append(f"{what}: mapped to client {row['client']!r}, which clients.yaml does not "
                                        f"define; fix sources.yaml")
            return
        problem = _invalid(TimeEntry, row, ("start", "end", "task_ref"))
        if problem:
            self.report.problems.append(f"{what}: {problem}")
            return
        self._count(self.table.upsert(row), row)

    def _count(self, outcome: str, row: dict[str, str]) -> None:
        if outcome == "added":
            self.report.added.append(row["id"])
        elif outcome == "updated":
            self.report.updated.append(row["id"])
        else:
            self.report.unchanged += 1
        self.report.rows[row["id"]] = row

    def flag_deleted(self, source_ids: Iterable[str]) -> None:
        wanted = set(source_ids)
        for source_id in wanted:
            self.skipped.pop(source_id, None)
        for row in self.table.of_source(self.system):
            if row.get("source_id") in wanted and row.get("source_status") != "deleted":
                row["source_status"] = "deleted"
                row["billable"] = "false"
                row["notes"] = f"[deleted in {system_name(self.system)}] {row.get('notes', '')}".strip()
                self.table.changed = True
                self.report.deleted.append(row["id"])
                self.report.rows[row["id"]] = row

    def live_in(self, start: date, end: date) -> dict[str, str]:
        """Source id -> row id of this source's live rows dated in the window."""
        first, last = start.isoformat(), end.isoformat()
        return {row["source_id"]: row["id"] for row in self.table.of_source(self.system)
                if row.get("source_status") != "deleted" and first <= row.get("date", "") <= last}

    def finish(self) -> None:
        if self.running:
            self.report.skipped.append(f"{self.running} running timer(s): synced once they are stopped")
        self.report.unmapped = sorted(self.unmapped.values(), key=lambda u: (-u.count, u.project_name))
        self.table.save()


def sync_time(
    workspace: Path, source: TimeSource, mapping: SourcesMapping, *, start: date, end: date, full: bool = False,
    now: datetime | None = None,
) -> SyncReport:
    """Bring a tracker's entries of [start, end] into time_entries.csv (see the module doc)."""
    system = source.system
    began = now or datetime.now(UTC)
    report = SyncReport(system, "entries")
    with workspace_lock(workspace):
        state = SyncState(workspace)
        merge = _EntryMerge(workspace, system, mapping, report, state)
        cursor = state.cursor(system)
        if state.mapping_changed(system, mapping.system(system)) and cursor is not None and not full:
            report.notes.append("the mapping changed since the last sync: the whole window is read")
            full = True
        if cursor is not None and not full and source.incremental:
            since = cursor - OVERLAP
            report.mode = f"changes since {since:%Y-%m-%d %H:%M} UTC"
            try:
                batch = source.fetch_entries(start, end, updated_since=since)
            except SourceRequestError as exc:  # e.g. a cursor older than the source keeps changes for
                report.notes.append(f"changes since the last sync could not be asked for ({exc}): the whole "
                                    "window was read instead")
                batch = EntryBatch()
                full = True
            merge.add(batch.entries)
            merge.flag_deleted(batch.deleted)
            remote = None if full else source.count_entries(start, end)
            if remote is not None:
                known = len(merge.live_in(start, end)) + sum(
                    1 for d in merge.skipped.values() if start.isoformat() <= d <= end.isoformat())
                if remote != known:
                    report.notes.append(f"{system_name(system)} counts {remote} entries in {start}..{end}, "
                                        f"{known} are known here: the window was read again to find deleted ones")
                    full = True
        else:
            full = True
        if full:
            report.mode = (report.mode + "; " if report.mode else "") + f"the whole window {start}..{end}"
            batch = source.fetch_entries(start, end)
            _complete(merge, batch, start, end)
        merge.finish()
        state.set_cursor(system, began)
        state.save()
    return report


def _complete(merge: _EntryMerge, batch: EntryBatch, start: date, end: date) -> None:
    seen = merge.add(batch.entries)
    merge.flag_deleted(batch.deleted)
    if batch.complete:
        window = (start.isoformat(), end.isoformat())
        gone = [sid for sid in merge.live_in(start, end) if sid not in seen]
        merge.flag_deleted(gone)
        for sid, day in list(merge.skipped.items()):
            if window[0] <= day <= window[1] and sid not in seen:
                del merge.skipped[sid]


def merge_entries(workspace: Path, system: str, entries: list[SourceEntry], mapping: SourcesMapping,
                  *, mode: str = "import") -> SyncReport:
    """Upsert entries read elsewhere (a CSV export): nothing is flagged deleted, no cursor moves."""
    report = SyncReport(system, "entries", mode=mode)
    with workspace_lock(workspace):
        merge = _EntryMerge(workspace, system, mapping, report, None)
        merge.add(entries)
        merge.finish()
    return report


# ----------------------------------------------------------------------------------------------------
# Tasks


def task_link(task: SourceTask, mapping: SystemMapping) -> ProjectLink | None:
    projects = ((task.project_id, task.project_name), *task.other_projects)
    for project_id, name in projects:
        key = task.project_key if project_id == task.project_id else ""
        link = mapping.link(project_id=project_id, project_name=name, project_key=key, client_name=task.client_name)
        if link is not None:
            return link
    return None


def task_row(task: SourceTask, link: ProjectLink) -> dict[str, str]:
    return {
        "id": task.key,
        "client": link.client,
        "project_code": link.project_code or task.project_key or task.project_name,
        "title": " ".join(task.title.split()),
        "status": "done" if task.done else "open",
        "completed_at": task.completed_at.isoformat() if task.done and task.completed_at else "",
        "milestone_amount": plain(task.milestone_amount) if task.milestone_amount is not None else "",
        "assignee": task.assignee,
        "source": task.system,
        "source_id": task.source_id,
        "source_project": task.project_id,
        "source_status": "",
        "source_stage": task.stage,
    }


class _TaskMerge:
    def __init__(self, workspace: Path, system: str, mapping: SourcesMapping, report: SyncReport) -> None:
        self.system = system
        self.mapping = mapping.system(system)
        self.clients = client_ids(workspace)
        self.table = Table(Path(workspace) / "tasks.csv", TASK_COLUMNS, TASK_SOURCE_COLUMNS)
        self.report = report
        self.unmapped: dict[tuple[str, str], Unmapped] = {}

    def add(self, tasks: Iterable[SourceTask]) -> set[str]:
        seen: set[str] = set()
        for task in tasks:
            self.report.fetched += 1
            seen.add(task.source_id)
            link = task_link(task, self.mapping)
            if link is None:
                note_unmapped(self.unmapped, self.system, task.project_id or task.project_key, task.project_name,
                              task.client_name)
                continue
            row = task_row(task, link)
            what = f"{system_name(self.system)} task {task.key} ({task.title})"
            if link.client not in self.clients:
                self.report.problems.append(f"{what}: mapped to client {link.client!r}, which clients.yaml does not "
                                            f"define; fix sources.yaml")
                continue
            problem = _invalid(Task, row, ("completed_at", "milestone_amount"))
            if problem:
                self.report.problems.append(f"{what}: {problem}")
                continue
            outcome = self.table.upsert(row)
            if outcome == "added":
                self.report.added.append(row["id"])
            elif outcome == "updated":
                self.report.updated.append(row["id"])
            else:
                self.report.unchanged += 1
            self.report.rows[row["id"]] = row
        return seen

    def flag_deleted(self, keep: set[str], projects: set[str] | None) -> None:
        """Flag this source's tasks (of `projects`, when given) whose source id is not in `keep`."""
        for row in self.table.of_source(self.system):
            if row.get("source_id") in keep or row.get("source_status") == "deleted":
                continue
            if projects is not None and row.get("source_project") not in projects:
                continue
            row.update(source_status="deleted", status="open", completed_at="", milestone_amount="",
                       title=f"[deleted in {system_name(self.system)}] {row.get('title', '')}".strip())
            self.table.changed = True
            self.report.deleted.append(row["id"])
            self.report.rows[row["id"]] = row

    def finish(self) -> None:
        self.report.unmapped = sorted(self.unmapped.values(), key=lambda u: (-u.count, u.project_name))
        self.table.save()


def sync_tasks(workspace: Path, source: TaskSource, mapping: SourcesMapping, *, full: bool = False,
               now: datetime | None = None) -> SyncReport:
    """Bring the tasks of every mapped project into tasks.csv (incremental after the first sync)."""
    system = source.system
    began = now or datetime.now(UTC)
    report = SyncReport(system, "tasks")
    projects = list(mapping.system(system).projects)
    if not projects:
        report.mode = "no project mapped"
        report.notes.append(f"no {system_name(system)} project is mapped to a client, so there is nothing to read: "
                            f"see them with `invoice-agent sources map {system}`")
        return report
    with workspace_lock(workspace):
        state = SyncState(workspace)
        cursor = state.cursor(system)
        if state.mapping_changed(system, mapping.system(system)) and cursor is not None and not full:
            report.notes.append("the mapping changed since the last sync: every task is read")
            full = True
        since = None if full or cursor is None else cursor - OVERLAP
        report.mode = (f"changes since {since:%Y-%m-%d %H:%M} UTC" if since else "every task") + \
            f" of {len(projects)} mapped project(s)"
        batch = source.fetch_tasks(projects, updated_since=since)
        merge = _TaskMerge(workspace, system, mapping, report)
        seen = merge.add(batch.tasks)
        if batch.complete:
            fetched = {t.project_id for t in batch.tasks} | set(batch.projects)
            merge.flag_deleted(seen, fetched)
        merge.finish()
        state.set_cursor(system, began)
        state.save()
    return report


def merge_tasks(workspace: Path, system: str, tasks: list[SourceTask], mapping: SourcesMapping, *,
                deleted: Iterable[str] = (), mode: str = "webhook") -> SyncReport:
    """Upsert tasks read one by one (a webhook); `deleted` source ids are flagged."""
    report = SyncReport(system, "tasks", mode=mode)
    with workspace_lock(workspace):
        merge = _TaskMerge(workspace, system, mapping, report)
        merge.add(tasks)
        gone = set(deleted)
        if gone:
            every = {row.get("source_id", "") for row in merge.table.of_source(system)}
            merge.flag_deleted(every - gone, None)
        merge.finish()
    return report


# ----------------------------------------------------------------------------------------------------


def _invalid(model: type[TimeEntry] | type[Task], row: dict[str, str], nullable: tuple[str, ...]) -> str:
    """What the workspace loader would say about this row, or "" when it would accept it."""
    values: dict[str, Any] = {k: row[k] for k in model.model_fields if k in row and k != "row"}
    for key in nullable:
        if key in values and not values[key]:
            values[key] = None
    try:
        model.model_validate(values)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
                         for e in exc.errors())
    return ""
