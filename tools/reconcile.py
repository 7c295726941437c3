"""Reconciliation of time against the task log (tasks.csv).

`check_task_refs` finds entries whose task belongs to another client (`wrong_project`), does not exist
(`unknown_task`) or was closed well before the work (`task_closed`); `find_unlogged_tasks` finds tasks
completed in a period with no time at all (`unlogged_task`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from tools.domain import Anomaly, Task, TimeEntry
from tools.periods import Period

CLOSED_GRACE = timedelta(days=7)

# Tokens that could be task ids: runs of word characters joined by "-", "." or "_" ("STU-142", "ACM.7").
_TOKEN = re.compile(r"\w(?:[\w.-]*\w)?")


class TaskIndex:
    """Tasks by id, with case-insensitive lookup of ids mentioned in free text."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.by_id = {t.id: t for t in tasks}
        self._by_lower = {t.id.lower(): t for t in self.by_id.values()}
        self._cache: dict[str, list[Task]] = {}

    def mentioned(self, notes: str) -> list[Task]:
        """Tasks whose id appears in `notes` as a whole token, case-insensitively, in order of mention."""
        if notes not in self._cache:
            found: dict[str, Task] = {}
            for token in _TOKEN.findall(notes.lower()):
                task = self._by_lower.get(token)
                if task is not None:
                    found.setdefault(task.id, task)
            self._cache[notes] = list(found.values())
        return self._cache[notes]


def check_task_refs(entries: Iterable[TimeEntry], tasks: Iterable[Task] | TaskIndex) -> list[Anomaly]:
    """`wrong_project`, `unknown_task` and `task_closed` for entries, judged by task_ref and notes."""
    index = tasks if isinstance(tasks, TaskIndex) else TaskIndex(tasks)
    found = []
    for e in entries:
        ref = index.by_id.get(e.task_ref) if e.task_ref else None
        if e.task_ref and ref is None:
            found.append(Anomaly(entry_id=e.id, kind="unknown_task",
                                 message=f"task_ref {e.task_ref!r} is not in the task log (tasks.csv)"))
        # The first task of another client, by task_ref, else by mention in the notes.
        where, task = "task_ref", ref
        if ref is None or ref.client == e.client:
            where, task = "notes", _of_another_client(index.mentioned(e.notes), e.client)
        if task is not None:
            found.append(Anomaly(
                entry_id=e.id, kind="wrong_project",
                message=f"{where} names task {task.id} ({task.title!r}), which belongs to client "
                f"{task.client}, not {e.client}"))
        if (ref is not None and ref.client == e.client and ref.status == "done" and ref.completed_at
                and e.date > ref.completed_at + CLOSED_GRACE):
            days = (e.date - ref.completed_at).days
            found.append(Anomaly(
                entry_id=e.id, kind="task_closed",
                message=f"dated {e.date}, {days} days after task {ref.id} was completed on {ref.completed_at}"))
    return found


def _of_another_client(tasks: list[Task], client: str) -> Task | None:
    for task in tasks:
        if task.client != client:
            return task
    return None


def logged_task_ids(entries: Iterable[TimeEntry], index: TaskIndex) -> set[str]:
    """Ids of tasks that have any time at all, by task_ref or by a mention in the notes."""
    logged = set()
    notes = set()
    for e in entries:
        if e.task_ref:
            logged.add(e.task_ref)
        notes.add(e.notes)
    for text in notes:  # each distinct text once
        logged.update(t.id for t in index.mentioned(text))
    return logged


def find_unlogged_tasks(client: str, period: Period, tasks: Iterable[Task], logged: set[str]) -> list[Anomaly]:
    """Tasks of `client` completed inside `period` with no time entry anywhere (reported by task id)."""
    return [
        Anomaly(entry_id=t.id, kind="unlogged_task",
                message=f"task {t.id} ({t.title!r}) was completed on {t.completed_at} but has no time logged")
        for t in tasks
        if t.client == client and t.status == "done" and t.completed_at in period and t.id not in logged
    ]
