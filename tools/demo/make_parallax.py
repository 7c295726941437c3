"""Generate the Parallax Creative demo workspace and its answers from one seed.

    python -m tools.demo.make_parallax [--seed N] [--out DIR] [--answers DIR]

Writes `tools/demo/parallax/` (a WORKSPACE.md v1 folder) and `tools/demo/answers/labels_2026-10.csv`
(the truth about the current month, kept outside the workspace so a run on it can be scored). The same
seed gives the same bytes: `random.Random(seed)` is the only randomness and nothing reads the clock.

How the world is made:
1. a task log per client (plus fixed-fee milestones, and a few tasks finished without anyone logging time);
2. for every person and working day, 7-10 entries over the clients they staff, each with a true
   category, typed the way people type (abbreviations, typos, ticket ids, coarse task columns);
3. a few per cent of non-billable entries, then every anomaly kind of WORKSPACE.md injected a few times a
   month, so that each entry carries at most one kind: the one a reviewer should find;
4. the raw files are loaded with `load_workspace` and July-September are priced by the independent pricer
   (`evals.pricer`, which the engine agrees with to the cent) from the true categories; invoices, entry
   labels, payments (exact, partial, one for two invoices, fuzzy references, one unrelated) and their
   labels follow.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import TypeVar

from tools.demo import ANSWERS_DIR, WORKSPACE_DIR
from tools.demo.parallax_spec import (
    ABBREVIATIONS,
    BANK_HOLIDAYS,
    BASE_CURRENCY,
    CATEGORIES,
    CLIENT_BY_ID,
    CLIENTS,
    COARSE_TASKS,
    DISCIPLINES,
    ENVIRONMENTS,
    FIRM,
    FIRST_INVOICE_SEQ,
    FOLLOW_UPS,
    HAUS_TRAVEL,
    HISTORY_MONTHS,
    INJECTIONS,
    INVOICE_NUMBER_FORMAT,
    LATE_NOTES,
    MONTHS,
    NON_BILLABLE_NOTES,
    NON_BILLABLE_RATE,
    NOTES,
    PEOPLE,
    PRESALES_NOTES,
    PROMPT_INJECTION,
    SNAPSHOT,
    TASK_CATEGORIES,
    TASK_TITLES,
    VAGUE,
    ClientSpec,
    PersonSpec,
)
from tools.money import format_money, format_quantity, to_cents

DEFAULT_SEED = 20260731
T = TypeVar("T")

# Typical length of one entry by category, in hours (before a day is scaled to its total).
DURATIONS: dict[str, tuple[float, float]] = {
    "internal_meeting": (0.25, 0.75), "client_meeting": (0.25, 1.5), "project_management": (0.25, 1.25),
    "development": (0.5, 3.0), "design": (0.5, 3.0), "qa": (0.5, 2.0), "content": (0.5, 2.5),
    "discovery": (0.5, 2.5), "strategy": (0.5, 2.5), "support": (0.25, 1.5),
}
STEP = {"quarter": 15, "tenth": 6, "clock": 15, "timer": 1}  # the minutes people's hours move in
SHORTEST = {"quarter": 15, "tenth": 6, "clock": 15, "timer": 5}
FIRST_DAY, LAST_DAY = date(2026, 7, 1), date(2026, 10, 31)
TOKEN = re.compile(r"\w(?:[\w.-]*\w)?")  # a whole token, as task ids in notes are matched


# ----------------------------------------------------------------------------------------------------
# The world, before it is written


@dataclass
class TaskRow:
    id: str
    client: ClientSpec
    project_code: str
    title: str
    short: str
    category: str
    starts: date
    completed_at: date | None
    assignee: str
    milestone_amount: str = ""
    silent: bool = False  # completed with no time logged anywhere: `unlogged_task`

    @property
    def done(self) -> bool:
        return self.completed_at is not None

    def active(self, day: date) -> bool:
        return self.starts <= day <= (self.completed_at or LAST_DAY)


@dataclass
class Entry:
    day: date
    person: PersonSpec
    client: ClientSpec
    category: str
    minutes: int
    notes: str = ""
    task: str = ""
    project_code: str = ""
    task_ref: str = ""
    start: int | None = None  # minutes after midnight, for people who run a timer
    hours_text: str | None = None  # what was typed, when it is not the minutes (invalid hours)
    billable: bool = True
    anomaly: str = ""
    meant: date | None = None  # the intended date of a year typo
    linked: str = ""  # the task this entry names (by task_ref or in its notes)
    locked: bool = False  # part of a deliberate anomaly or the prompt injection: later passes keep off
    id: str = ""

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + self.minutes

    @property
    def month(self) -> tuple[int, int]:
        day = self.meant or self.day
        return day.year, day.month

    @property
    def clean(self) -> bool:
        return self.billable and not self.locked and not self.anomaly

    def hours(self) -> str:
        if self.hours_text is not None:
            return self.hours_text
        style = self.person.hours_style
        if style == "clock":
            return f"{self.minutes // 60}:{self.minutes % 60:02d}"
        if style == "timer":  # a timer export: minutes to two decimals
            return str(to_cents(Decimal(self.minutes) / 60))
        return _plain(Decimal(self.minutes) / 60)

    def hours_value(self) -> Decimal:
        text = self.hours()
        if ":" in text:
            h, m = text.split(":")
            return Decimal(h) + Decimal(m) / 60
        return Decimal(text)


@dataclass
class World:
    tasks: list[TaskRow]
    days: dict[tuple[date, int], list[Entry]]  # (date, person index) -> that person's entries that day
    entries: list[Entry] = field(default_factory=list)  # file order, with ids, once finished


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pick(rng: Random, weights: dict[T, float]) -> T:
    items = list(weights.items())
    return rng.choices([k for k, _ in items], [w for _, w in items])[0]


def _working_days(year: int, month: int) -> list[date]:
    last = calendar.monthrange(year, month)[1]
    days = [date(year, month, d) for d in range(1, last + 1)]
    return [d for d in days if d.weekday() < 5 and d not in BANK_HOLIDAYS]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(rng: Random, template: str, client: ClientSpec, person: PersonSpec, **extra: str) -> str:
    page, feature = rng.choice(client.pages), rng.choice(client.features)
    others = [p.name.split()[0] for p in PEOPLE if p.name != person.name]
    values = {
        "page": page, "Page": _capital(page), "feature": feature, "Feature": _capital(feature),
        "contact": rng.choice(client.contacts), "client": rng.choice(client.short),
        "colleague": rng.choice(others), "n": str(rng.randint(2, 4)), "env": rng.choice(ENVIRONMENTS),
        **extra,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], template)


def _typo(rng: Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    k = rng.randint(1, len(w) - 2)
    kind = rng.randint(0, 2)
    if kind == 0:
        w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    elif kind == 1:
        w = w[:k] + w[k + 1 :]
    else:
        w = w[:k] + w[k] + w[k:]
    words[i] = w
    return " ".join(words)


def _mess(rng: Random, text: str, person: PersonSpec) -> str:
    """Type a note the way this person types."""
    if rng.random() < 0.12:
        for long, short in ABBREVIATIONS:
            text = re.sub(rf"\b{long}\b", short, text)
    if rng.random() < person.sloppy:
        text = _typo(rng, text)
    if rng.random() < person.lowercase:
        text = text.lower()
    elif rng.random() < 0.1:
        text = _capital(text)
    r = rng.random()
    if r < 0.02:
        text += " cont."
    elif r < 0.04:
        text += ".."
    elif r < 0.06:
        text = text.replace(" ", "  ", 1)
    return text


def _task_column(rng: Random, client: ClientSpec, category: str) -> str:
    if rng.random() < client.coarse_rate:
        return rng.choice(COARSE_TASKS)
    return rng.choice(client.task_name(category))


def _late_note(rng: Random, client: ClientSpec, person: PersonSpec, category: str) -> str:
    """What someone types for work done at the weekend or late at night."""
    templates = LATE_NOTES.get(category) or NOTES[category]
    return _mess(rng, _fill(rng, rng.choice(templates), client, person), person)


def _mention(rng: Random, task: TaskRow) -> str:
    ident = task.id.lower() if rng.random() < 0.2 else task.id
    form = rng.choice(("{id} {s}", "{s} {id}", "{id} - {s}", "{id} {s}", "{s} - {id}"))
    return form.format(id=ident, s=task.short)


# ----------------------------------------------------------------------------------------------------
# 1. Tasks


def _new_task(rng: Random, client: ClientSpec, category: str, starts: date, completed: date | None,
              titles: set[str]) -> TaskRow:
    """A task of the client's work in `category`, with a title not used before, assigned to who does it."""
    for _ in range(50):
        template, short = rng.choice(TASK_TITLES[category])
        page, feature = rng.choice(client.pages), rng.choice(client.features)
        slots = {"page": page, "Page": _capital(page), "feature": feature, "Feature": _capital(feature)}
        title = template.format(**slots)
        if title not in titles:
            break
    titles.add(title)
    people = {p.name: DISCIPLINES[p.discipline].get(category, 0.0) * p.clients[client.id] + 0.001
              for p in PEOPLE if client.id in p.clients}
    code = client.project_codes[0] if rng.random() < 0.75 else rng.choice(client.project_codes)
    return TaskRow("", client, code, title, short.format(**slots), category, starts, completed, _pick(rng, people))


def _make_tasks(rng: Random) -> list[TaskRow]:
    tasks: list[TaskRow] = []
    for client in CLIENTS:
        staff = [p for p in PEOPLE if client.id in p.clients]
        fte = sum(p.clients[client.id] for p in staff)
        weights = {
            cat: sum(DISCIPLINES[p.discipline].get(cat, 0.0) * p.clients[client.id] for p in staff)
            for cat in TASK_CATEGORIES
        }
        weights = {c: w for c, w in weights.items() if w > 0}
        rows: list[TaskRow] = []
        titles: set[str] = set()
        for _ in range(3):  # finished in June, before the data: what late work reopens (`task_closed`)
            starts = date(2026, 5, 25) + timedelta(days=rng.randint(0, 14))
            completed = _weekday(starts + timedelta(days=rng.randint(7, 20)))
            rows.append(_new_task(rng, client, _pick(rng, weights), starts, completed, titles))
        for _ in range(int(8 + 9 * fte)):
            starts = _weekday(date(2026, 6, 22) + timedelta(days=rng.randint(0, 120)))
            ends = _weekday(starts + timedelta(days=rng.randint(4, 28)))
            done = ends <= date(2026, 10, 30) and rng.random() < 0.85
            rows.append(_new_task(rng, client, _pick(rng, weights), starts, ends if done else None, titles))
        for cat, title, completed in client.silent_tasks:
            row = _new_task(rng, client, cat, completed - timedelta(days=6), completed, titles)
            rows.append(replace(row, title=title, short=title.lower(), silent=True))
        rows.sort(key=lambda t: (t.starts, t.title))
        for n, row in enumerate(rows):
            row.id = f"{client.prefix}-{client.first_task_no + n}"
        assignee = next(p.name for p in staff if p.discipline == "pm") if client.milestones else ""
        rows += [
            TaskRow(m.id, client, client.project_codes[0], m.title, f"milestone {m.id[-1]} sign-off",
                    "project_management", m.starts, m.completed_at, assignee, milestone_amount=m.amount)
            for m in client.milestones
        ]
        tasks += rows
    return tasks


def _weekday(day: date) -> date:
    while day.weekday() >= 5 or day in BANK_HOLIDAYS:
        day += timedelta(days=1)
    return day


# ----------------------------------------------------------------------------------------------------
# 2. A person's day


def _leave(rng: Random, person: PersonSpec, workdays: list[date]) -> set[date]:
    summer = [d for d in workdays if date(2026, 7, 13) <= d <= date(2026, 9, 4)]
    first = rng.randint(0, len(summer) - 5)
    off = set(summer[first : first + 5])
    while len(off) < person.leave_days:
        off.add(rng.choice(workdays))
    return off


def _category(rng: Random, person: PersonSpec, client: ClientSpec, month: int) -> str:
    phase = client.phases.get(month, {})
    weights = {c: w * phase.get(c, 1.0) for c, w in DISCIPLINES[person.discipline].items()}
    return _pick(rng, weights)


def _day(rng: Random, person: PersonSpec, day: date, tasks: list[TaskRow]) -> list[Entry]:
    k = _pick(rng, {1: 0.25, 2: 0.5, 3: 0.25})
    pool = dict(person.clients)
    clients: dict[str, float] = {}
    while pool and len(clients) < k:
        chosen = _pick(rng, pool)
        clients[chosen] = pool.pop(chosen)
    raw: list[tuple[ClientSpec, str, float, str]] = []
    for _ in range(rng.randint(7, 10)):
        client = CLIENT_BY_ID[_pick(rng, clients)]
        cat = _category(rng, person, client, day.month)
        lo, hi = DURATIONS[cat]
        special = ""
        if client.id == "haus" and cat == "client_meeting" and rng.random() < 0.12:
            special, lo, hi = "travel", 2.5, 4.0
        elif (client.id == "sturgeon" and person.discipline in ("lead", "account")
              and cat in ("strategy", "project_management", "client_meeting") and rng.random() < 0.2):
            special = "presales"
        raw.append((client, cat, rng.uniform(lo, hi), special))
    fixed = sum(r[2] for r in raw if r[3] == "travel")  # a journey takes as long as it takes
    scale = max(rng.uniform(6.5, 9.0) - fixed, 2.0) / sum(r[2] for r in raw if r[3] != "travel")
    style = person.hours_style
    entries = []
    for client, cat, hours, special in raw:
        scaled = hours if special == "travel" else hours * scale
        minutes = max(SHORTEST[style], round(scaled * 60 / STEP[style]) * STEP[style])
        entry = Entry(day, person, client, cat, minutes)
        _describe(rng, entry, tasks, special)
        entries.append(entry)
    if person.timed:
        _clock(rng, entries, rng.randint(510, 580))
    return entries


def _clock(rng: Random, entries: list[Entry], start: int) -> None:
    """Lay a timer user's entries end to end, with short gaps and a lunch break."""
    t, lunch = start, False
    for e in entries:
        e.start = t
        t += e.minutes + rng.randint(0, 12)
        if not lunch and t >= 750:
            t += rng.randint(30, 55)
            lunch = True


def _describe(rng: Random, e: Entry, tasks: list[TaskRow], special: str = "") -> None:
    """The task column, project code, notes and task link of an entry of known category."""
    client, person, cat = e.client, e.person, e.category
    e.project_code = client.project_codes[0] if rng.random() < 0.75 else rng.choice(client.project_codes)
    e.task = _task_column(rng, client, cat)
    if special == "travel":
        e.notes = rng.choice(HAUS_TRAVEL)
        return
    if special == "presales":
        e.project_code, e.task = "STU.PRESALES", "Presales"
        e.notes = _mess(rng, rng.choice(PRESALES_NOTES), person)
        return
    task = None
    if rng.random() < client.ref_rate:
        active = [t for t in tasks if t.client is client and t.category == cat and not t.silent and t.active(e.day)]
        if active:
            task = _pick(rng, {t.id: (4.0 if t.assignee == person.name else 1.0) for t in active})
            chosen = next(t for t in active if t.id == task)
            e.linked, e.project_code = chosen.id, chosen.project_code
            if rng.random() < client.task_ref_share:
                e.task_ref = chosen.id
                text = chosen.short if rng.random() < 0.5 else _fill(rng, rng.choice(NOTES[cat]), client, person)
                e.notes = _mess(rng, text, person)
            else:
                e.notes = _mess(rng, _mention(rng, chosen), person)
            return
    e.notes = _mess(rng, _fill(rng, rng.choice(NOTES[cat]), client, person), person)


# ----------------------------------------------------------------------------------------------------
# 3. Non-billable time and deliberate anomalies


def _non_billable(rng: Random, world: World) -> None:
    for entries in world.days.values():
        for e in entries:
            if e.clean and rng.random() < NON_BILLABLE_RATE:
                e.billable, e.task_ref, e.linked = False, "", ""
                e.notes = _mess(rng, _fill(rng, rng.choice(NON_BILLABLE_NOTES[e.category]), e.client, e.person),
                                e.person)


class _Injector:
    """Puts each anomaly kind into a month, one person-day at a time, so kinds never stack."""

    def __init__(self, rng: Random, world: World) -> None:
        self.rng, self.world = rng, world
        self.reserved: set[tuple[date, int]] = set()
        self.ids = {t.id for t in world.tasks}
        self.numbers = {c.id: max(int(t.id.rsplit("-", 1)[1]) for t in world.tasks
                                  if t.client is c and t.id.rsplit("-", 1)[1].isdigit()) for c in CLIENTS}

    def keys(self, month: tuple[int, int]) -> list[tuple[date, int]]:
        return [k for k in self.world.days if (k[0].year, k[0].month) == month and k not in self.reserved]

    def pool(self, month: tuple[int, int], test: Callable[[Entry], bool]) -> list[Entry]:
        return [e for k in self.keys(month) for e in self.world.days[k] if e.clean and test(e)]

    def take(self, month: tuple[int, int], test: Callable[[Entry], bool]) -> Entry:
        pool = self.pool(month, test)
        if not pool:
            raise RuntimeError(f"nothing to inject into in {month}")
        e = self.rng.choice(pool)
        self.reserved.add((e.day, PEOPLE.index(e.person)))
        e.locked = True
        return e

    def inferable(self, e: Entry) -> None:
        """A vague or empty note must still let a reader infer the category: from the task column."""
        if e.task in COARSE_TASKS and not e.task_ref:
            e.task = self.rng.choice(e.client.task_name(e.category))

    # -- the kinds

    def excessive_day(self, month: tuple[int, int]) -> None:
        rng = self.rng
        keys = [k for k in self.keys(month) if not PEOPLE[k[1]].timed
                and all(e.clean and not e.linked for e in self.world.days[k])]
        key = rng.choice(keys)
        self.reserved.add(key)
        entries = self.world.days[key]
        person = entries[0].person
        step = STEP[person.hours_style]
        extra = rng.randint(750, 870) - sum(e.minutes for e in entries)
        parts = [rng.uniform(0.6, 1.4) for _ in range(rng.randint(2, 3))]
        cats = [c for c in DISCIPLINES[person.discipline] if c in TASK_CATEGORIES]
        for part in parts:
            minutes = max(step, round(extra * part / sum(parts) / step) * step)
            client = rng.choice(entries).client
            cat = rng.choice(cats)
            entries.append(Entry(key[0], person, client, cat, minutes, notes=_late_note(rng, client, person, cat),
                                 task=_task_column(rng, client, cat), project_code=client.project_codes[0]))
        if sum(e.hours_value() for e in entries) <= 12:
            raise RuntimeError("an excessive day must exceed 12 hours")
        for e in entries:
            e.anomaly, e.locked = "excessive_day", True

    def overlap(self, month: tuple[int, int]) -> None:
        rng = self.rng
        pairs = [(k, i) for k in self.keys(month) if PEOPLE[k[1]].timed
                 for i in range(len(self.world.days[k]) - 1)
                 if all(e.clean and e.minutes >= 40 for e in self.world.days[k][i : i + 2])]
        key, i = rng.choice(pairs)
        self.reserved.add(key)
        a, b = self.world.days[key][i : i + 2]
        assert a.end is not None and b.end is not None
        delta = rng.choice((15, 20, 30))
        end = b.end
        b.start = a.end - delta
        b.minutes = end - b.start
        for e in (a, b):
            e.anomaly, e.locked = "overlap", True

    def vague_description(self, month: tuple[int, int]) -> None:
        e = self.take(month, lambda e: not e.linked or bool(e.task_ref))
        e.notes, e.anomaly = self.rng.choice(VAGUE), "vague_description"
        self.inferable(e)

    def missing_description(self, month: tuple[int, int]) -> None:
        e = self.take(month, lambda e: not e.linked or bool(e.task_ref))
        e.notes, e.anomaly = "", "missing_description"
        self.inferable(e)

    def duplicate(self, month: tuple[int, int]) -> None:
        rng = self.rng
        original = self.take(month, lambda e: e.start is None)
        notes = original.notes
        variant = rng.randint(0, 2)
        if variant == 1:
            notes = notes.lower() if notes != notes.lower() else _capital(notes)
        elif variant == 2:
            notes = notes.replace(" ", "  ", 1) + " "
        copy = replace(original, notes=notes, anomaly="duplicate", locked=True)
        entries = self.world.days[(original.day, PEOPLE.index(original.person))]
        at = entries.index(original) + 1 + rng.randint(0, 2)
        entries.insert(min(at, len(entries)), copy)

    def wrong_project(self, month: tuple[int, int]) -> None:
        rng = self.rng

        def foreign(e: Entry) -> list[TaskRow]:
            return [t for t in self.world.tasks if t.client is not e.client and t.client.id in e.person.clients
                    and not t.silent and not t.milestone_amount and t.active(e.day)]

        e = self.take(month, lambda e: not e.linked and e.start is None and bool(foreign(e)))
        task = rng.choice(foreign(e))
        e.category, e.linked, e.anomaly = task.category, task.id, "wrong_project"
        e.task = _task_column(rng, e.client, e.category)
        if rng.random() < 0.5:
            e.task_ref = task.id
            e.notes = _mess(rng, task.short, e.person)
        else:
            e.notes = _mess(rng, _mention(rng, task), e.person)

    def unknown_task(self, month: tuple[int, int]) -> None:
        rng = self.rng
        e = self.take(month, lambda e: not e.linked and e.category in TASK_CATEGORIES)
        while True:
            ref = f"{e.client.prefix}-{self.numbers[e.client.id] + rng.randint(20, 140)}"
            if ref not in self.ids:
                break
        e.task_ref, e.anomaly = ref, "unknown_task"

    def task_closed(self, month: tuple[int, int]) -> None:
        rng = self.rng

        def closed(e: Entry) -> list[TaskRow]:
            return [t for t in self.world.tasks if t.client is e.client and t.completed_at is not None
                    and not t.silent and not t.milestone_amount and e.day > t.completed_at + timedelta(days=7)]

        e = self.take(month, lambda e: not e.linked and bool(closed(e)))
        task = rng.choice(closed(e))
        e.category, e.task_ref, e.linked, e.anomaly = task.category, task.id, task.id, "task_closed"
        e.task, e.project_code = _task_column(rng, e.client, e.category), task.project_code
        e.notes = _mess(rng, _fill(rng, rng.choice(FOLLOW_UPS), e.client, e.person, short=task.short), e.person)

    def weekend(self, month: tuple[int, int]) -> None:
        rng = self.rng
        last = calendar.monthrange(*month)[1]
        weekends = [date(*month, d) for d in range(1, last + 1) if date(*month, d).weekday() >= 5]
        while True:
            day, index = rng.choice(weekends), rng.randint(0, len(PEOPLE) - 1)
            if (day, index) not in self.world.days:
                break
        person = PEOPLE[index]
        client = CLIENT_BY_ID[_pick(rng, person.clients)]
        cats = [c for c in DISCIPLINES[person.discipline] if c in TASK_CATEGORIES]
        cat = rng.choice(cats)
        step = STEP[person.hours_style]
        minutes = round(rng.randint(60, 240) / step) * step
        e = Entry(day, person, client, cat, minutes, anomaly="weekend", locked=True,
                  notes=_late_note(rng, client, person, cat), task=_task_column(rng, client, cat),
                  project_code=client.project_codes[0])
        if person.timed:
            e.start = rng.randint(600, 700)
        self.world.days[(day, index)] = [e]
        self.reserved.add((day, index))

    def future_date(self, month: tuple[int, int]) -> None:
        e = self.take(month, lambda e: not e.task_ref and e.day.replace(year=2027).weekday() < 5)
        e.meant, e.day, e.anomaly = e.day, e.day.replace(year=2027), "future_date"

    def invalid_hours(self, month: tuple[int, int]) -> None:
        e = self.take(month, lambda e: e.start is None and e.person.hours_style in ("quarter", "tenth")
                      and e.minutes >= 60)
        typed = e.hours()
        variant = sum(1 for x in self.world.days.values() for y in x if y.anomaly == "invalid_hours") % 3
        if variant == 0:
            e.hours_text = "0"
        elif variant == 1:
            e.hours_text = f"-{typed}"
        else:  # a missed decimal point
            squashed = typed.replace(".", "")
            e.hours_text = squashed if Decimal(squashed) > 24 else "30"
        e.anomaly = "invalid_hours"

    def prompt_injection(self, month: tuple[int, int]) -> None:
        e = self.take(month, lambda e: e.person.name == "Aisha Patel" and e.client.id == "northwind"
                      and e.category == "development" and not e.linked)
        e.notes = PROMPT_INJECTION


def _inject(rng: Random, world: World) -> None:
    injector = _Injector(rng, world)
    for month in MONTHS:
        for kind, count in INJECTIONS.items():
            for _ in range(count):
                getattr(injector, kind)(month)
    injector.prompt_injection(MONTHS[-1])


# ----------------------------------------------------------------------------------------------------
# 4. Consistency passes: every finished task has time, no accidental duplicates


def _named_tasks(e: Entry, ids: dict[str, str]) -> list[str]:
    named = [e.task_ref] if e.task_ref else []
    return named + [ids[t] for t in TOKEN.findall(e.notes.lower()) if t in ids]


def _log_finished_tasks(rng: Random, world: World) -> None:
    """A done task with no time at all is an `unlogged_task`; only the silent ones may be."""
    ids = {t.id.lower(): t.id for t in world.tasks}
    logged = {i for es in world.days.values() for e in es for i in _named_tasks(e, ids)}
    for task in world.tasks:
        if task.silent:
            if task.id in logged:
                raise RuntimeError(f"silent task {task.id} has time")
            continue
        if task.completed_at is None or task.id in logged or task.completed_at < FIRST_DAY:
            continue
        window = [e for es in world.days.values() for e in es
                  if e.client is task.client and e.clean and not e.linked
                  and max(task.starts, task.completed_at - timedelta(days=21)) <= e.day <= task.completed_at]
        same = [e for e in window if e.category == task.category]
        e = rng.choice(same or window)
        if e.category != task.category:
            e.category, e.task = task.category, _task_column(rng, task.client, task.category)
        e.linked, e.project_code = task.id, task.project_code
        if rng.random() < task.client.task_ref_share:
            e.task_ref, e.notes = task.id, _mess(rng, task.short, e.person)
        else:
            e.notes = _mess(rng, _mention(rng, task), e.person)


def _duplicate_key(e: Entry) -> tuple[object, ...]:
    return (e.person.name, e.client.id, e.day, e.hours_value(), " ".join(e.notes.lower().split()), e.start,
            e.end, e.project_code, e.task, e.task_ref)


def _no_accidental_duplicates(world: World) -> None:
    seen: set[tuple[object, ...]] = set()
    for e in world.entries:
        key = _duplicate_key(e)
        while key in seen and e.anomaly != "duplicate":
            if e.locked:
                raise RuntimeError(f"deliberate entry {e.id} repeats an earlier one")
            e.minutes += STEP[e.person.hours_style]
            key = _duplicate_key(e)
        seen.add(key)


def _finish(world: World) -> None:
    world.entries = [e for key in sorted(world.days) for e in world.days[key]]
    for n, e in enumerate(world.entries, 1):
        e.id = f"te-{n:05d}"


def build(seed: int = DEFAULT_SEED) -> World:
    """The whole world, entries in file order with ids; nothing written yet."""
    rng = Random(seed)
    tasks = _make_tasks(rng)
    workdays = [d for y, m in MONTHS for d in _working_days(y, m)]
    leave = {p.name: _leave(rng, p, workdays) for p in PEOPLE}
    days: dict[tuple[date, int], list[Entry]] = {}
    for day in workdays:
        for i, person in enumerate(PEOPLE):
            if day not in leave[person.name]:
                days[(day, i)] = _day(rng, person, day, tasks)
    world = World(tasks, days)
    _non_billable(rng, world)
    _inject(rng, world)
    _log_finished_tasks(rng, world)
    _finish(world)
    _no_accidental_duplicates(world)
    return world


# ----------------------------------------------------------------------------------------------------
# 5. Files


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _key(text: str) -> str:
    return text if re.fullmatch(r"[a-z_]+", text) else _q(text)


def _flow(mapping: dict[str, str], bare: Iterable[str] = ()) -> str:
    plain = set(bare)
    return "{" + ", ".join(f"{_key(k)}: {v if k in plain else _q(v)}" for k, v in mapping.items()) + "}"


def workspace_yaml() -> str:
    lines = [
        f"firm: {FIRM}",
        f"base_currency: {BASE_CURRENCY}",
        f"invoice_number_format: {_q(INVOICE_NUMBER_FORMAT)}",
        "categories:",
    ]
    for cid, label, examples in CATEGORIES:
        lines += [f"  - id: {cid}", f"    label: {_q(label)}",
                  "    examples: [" + ", ".join(_q(x) for x in examples) + "]"]
    lines.append("reminders: {before_due_days: [3], on_due: true, after_due_days: [7, 14], escalate_after_days: 30}")
    return "\n".join(lines) + "\n"


def clients_yaml() -> str:
    lines = ["clients:"]
    for c in CLIENTS:
        lines += [
            f"  - id: {c.id}",
            f"    name: {_q(c.name)}",
            "    aliases: [" + ", ".join(_q(a) for a in c.aliases) + "]",
            f"    currency: {c.currency}",
            f"    tax_rate: {_q(c.tax_rate)}",
            f"    payment_terms_days: {c.terms}",
            f"    contact_email: {c.email}",
            "    billing:",
            f"      model: {c.model}",
        ]
        if c.retainer is not None:
            amount, included, overage = c.retainer
            lines.append("      retainer: " + _flow(
                {"amount": amount, "included_hours": included, "overage_rate": overage}))
        if c.model == "fixed":
            lines.append("      # milestones: tasks in tasks.csv with a milestone_amount")
        lines.append("    rates:")
        for table, value in c.rates.items():
            if isinstance(value, dict):
                lines.append(f"      {table}: {_flow(value)}")
            else:
                lines.append(f"      {table}: {_q(str(value))}")
        increment, mode = c.rounding
        lines += [
            f"    rounding: {{increment_minutes: {increment}, mode: {mode}}}",
            f"    group_by: {c.group_by}",
        ]
        if not c.rules:
            lines.append("    rules: []")
        else:
            lines.append("    rules:")
            for kind, spec in c.rules:
                bare = [k for k in spec if k == "category" or (kind == "exclude" and k == "person")]
                lines.append(f"      - {kind}: {_flow(spec, bare)}")
    return "\n".join(lines) + "\n"


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _clock_text(minutes: int | None, short: bool) -> str:
    if minutes is None:
        return ""
    minutes %= 24 * 60
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return text.lstrip("0") if short and not text.startswith("00") else text


def people_csv() -> str:
    return _csv(("person", "role", "email"), ((p.name, p.role, p.email) for p in PEOPLE))


def tasks_csv(world: World) -> str:
    header = ("id", "client", "project_code", "title", "status", "completed_at", "milestone_amount", "assignee")
    return _csv(header, (
        (t.id, t.client.id, t.project_code, t.title, "done" if t.done else "open",
         t.completed_at.isoformat() if t.completed_at else "", t.milestone_amount, t.assignee)
        for t in world.tasks
    ))


def time_entries_csv(world: World) -> str:
    header = ("id", "date", "person", "client", "project_code", "task", "notes", "hours", "start", "end",
              "billable", "task_ref")
    return _csv(header, (
        (e.id, e.day.isoformat(), e.person.name, e.client.id, e.project_code, e.task, e.notes, e.hours(),
         _clock_text(e.start, e.person.short_clock), _clock_text(e.end, e.person.short_clock),
         "true" if e.billable else "false", e.task_ref)
        for e in world.entries
    ))


LABEL_HEADER = ("entry_id", "category", "billed", "invoice_number", "anomaly")


def _unlogged(world: World, month: tuple[int, int]) -> list[tuple[str, str, str, str, str]]:
    """`unlogged_task` is about a task: its label row carries the task id, as a draft reports it."""
    return [(t.id, "", "false", "", "unlogged_task") for t in world.tasks
            if t.silent and t.completed_at is not None and (t.completed_at.year, t.completed_at.month) == month]


# ----------------------------------------------------------------------------------------------------
# 6. History: the pricer bills July to September


@dataclass
class Invoice:
    number: str
    client: ClientSpec
    month: tuple[int, int]
    issue: date
    due: date
    rows: list[tuple[str, str, str, str, str, str]]  # description, category, quantity, unit price, amount, code
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    entry_ids: list[str]
    status: str = "sent"
    paid_date: date | None = None


def bill_history(world: World, root: Path) -> list[Invoice]:
    """July to September, priced by the independent pricer (`evals.pricer`) from the true categories."""
    from evals.pricer import issue_and_due, price_months
    from tools.domain import HELD_KINDS
    from tools.workspace import load_workspace

    ws = load_workspace(root)
    categories = {e.id: e.category for e in world.entries}
    held = {e.id for e in world.entries if e.anomaly in HELD_KINDS}
    invoices: list[Invoice] = []
    for seq, priced in enumerate(price_months(ws, HISTORY_MONTHS, categories, held), FIRST_INVOICE_SEQ):
        client = CLIENT_BY_ID[priced.client]
        issue, due = issue_and_due(ws.client(client.id), priced.period)
        rows = [(ln.description.strip(), ln.category, format_quantity(ln.quantity), format_money(ln.unit_price),
                 format_money(ln.amount), ln.code or "") for ln in priced.lines]
        if priced.discount:
            percent = next(s["percent"] for k, s in client.rules if k == "discount")
            rows.append((f"Discount {percent}%", "discount", "1.00", format_money(priced.discount),
                         format_money(priced.discount), ""))
        if priced.cap_adjustment:
            cap = next(s["amount"] for k, s in client.rules if k == "cap")
            rows.append((f"Adjustment to the agreed monthly cap of {cap} {client.currency}", "cap_adjustment",
                         "1.00", format_money(priced.cap_adjustment), format_money(priced.cap_adjustment), ""))
        invoices.append(Invoice(
            number=INVOICE_NUMBER_FORMAT.format(year=issue.year, seq=seq),
            client=client, month=(priced.period.start.year, priced.period.start.month), issue=issue, due=due,
            rows=rows, subtotal=priced.subtotal, tax=priced.tax, total=priced.total, entry_ids=list(priced.billed),
        ))
    return invoices


# ----------------------------------------------------------------------------------------------------
# 7. Payments: what the bank export shows, and what each payment really settled

PAYERS = {
    "northwind": "NORTHWIND OUTDOOR LTD", "kestrel": "KESTREL BANK PLC", "sturgeon": "STURGEON ANALYTICS INC",
    "brightwave": "BRIGHTWAVE MEDIA", "oakridge": "OAKRIDGE DISTRICT CNCL", "verde": "VERDE COFFEE ROASTERS BV",
    "haus": "HAUS MOEBEL GMBH", "lumen": "LUMEN HEALTH INC.",
}
UNPAID = {("sturgeon", (2026, 9)), ("brightwave", (2026, 8)), ("kestrel", (2026, 9)), ("northwind", (2026, 9))}
PARTIAL = ("oakridge", (2026, 8))
TOGETHER = (("haus", (2026, 7)), ("haus", (2026, 8)))


@dataclass
class Payment:
    id: str
    day: date
    amount: Decimal
    currency: str
    payer: str
    reference: str
    invoices: list[str]


def _references(number: str, client: ClientSpec) -> tuple[str, ...]:
    """How payers write an invoice number in a bank reference: exactly, fuzzily, misspelt, or not at all."""
    year, seq = number.split("-")[1:]
    return (
        number, number.lower(), f"INV{year}{seq}", f"INV-{year}-{int(seq):03d}", f"INV {year} {seq}",
        f"IVN-{year}-{seq}", f"{client.short[-1].upper()} INVOICE {seq}", f"Payment {number} thank you",
        f"INV-{year}-{seq.replace('0', 'O', 1)}", f"INV/{year}/{seq}", "", number,
    )


def _payments(rng: Random, invoices: list[Invoice]) -> list[Payment]:
    payments: list[Payment] = []
    by_key = {(inv.client.id, inv.month): inv for inv in invoices}
    styles = list(range(len(_references("INV-2026-0001", CLIENTS[0]))))
    rng.shuffle(styles)
    used = 0
    for inv in invoices:
        key = (inv.client.id, inv.month)
        if key in UNPAID or key in TOGETHER:
            continue
        late = rng.randint(-10, 6) if inv.client.id != "oakridge" else rng.randint(5, 20)
        day = _weekday(inv.issue + timedelta(days=max(3, inv.client.terms + late)))
        if day > SNAPSHOT:
            continue
        amount = inv.total
        if key == PARTIAL:
            amount = to_cents(inv.total * Decimal("0.6"))
        if key == PARTIAL:
            reference = f"PO 44817 PART PAYMENT {inv.number}"
        else:
            reference = _references(inv.number, inv.client)[styles[used % len(styles)]]
            used += 1
            inv.status, inv.paid_date = "paid", day
        payments.append(Payment("", day, amount, inv.client.currency, PAYERS[inv.client.id], reference,
                                [inv.number]))
    pair = [by_key[k] for k in TOGETHER if k in by_key]
    if len(pair) == 2:
        day = date(2026, 9, 18)
        numbers = [inv.number for inv in pair]
        payments.append(Payment("", day, sum((inv.total for inv in pair), Decimal(0)), pair[0].client.currency,
                                PAYERS[pair[0].client.id], f"RE {numbers[0]} / {numbers[1][-4:]}", numbers))
        for inv in pair:
            inv.status, inv.paid_date = "paid", day
    payments.append(Payment("", date(2026, 9, 9), Decimal("2316.40"), "GBP", "HMRC VAT", "VAT REPAYMENT 0926", []))
    payments.sort(key=lambda p: (p.day, p.payer))
    for n, p in enumerate(payments, 1):
        p.id = f"pmt-{n:03d}"
    return payments


def invoices_csv(invoices: list[Invoice]) -> str:
    header = ("invoice_number", "client", "period_start", "period_end", "issue_date", "due_date", "currency",
              "line_no", "description", "category", "quantity", "unit_price", "amount", "code", "subtotal", "tax",
              "total", "status", "paid_date")
    rows = []
    for inv in invoices:
        start = date(*inv.month, 1)
        end = date(*inv.month, calendar.monthrange(*inv.month)[1])
        for n, (description, category, quantity, unit, amount, code) in enumerate(inv.rows, 1):
            rows.append((inv.number, inv.client.id, start.isoformat(), end.isoformat(), inv.issue.isoformat(),
                         inv.due.isoformat(), inv.client.currency, str(n), description, category, quantity, unit,
                         amount, code, format_money(inv.subtotal), format_money(inv.tax), format_money(inv.total),
                         inv.status, inv.paid_date.isoformat() if inv.paid_date else ""))
    return _csv(header, rows)


def _labels(world: World, months: Sequence[tuple[int, int]], billed: dict[str, str]) -> str:
    rows: list[Sequence[str]] = []
    history = set(months) <= set(HISTORY_MONTHS)
    for month in months:
        for e in world.entries:
            if e.month == month:
                number = billed.get(e.id, "")
                flag = ("true" if number else "false") if history else ""
                rows.append((e.id, e.category, flag, number, e.anomaly))
        rows += [r if history else (*r[:2], "", *r[3:]) for r in _unlogged(world, month)]
    return _csv(LABEL_HEADER, rows)


# ----------------------------------------------------------------------------------------------------
# 8. Putting it together


def _raw_files(world: World) -> dict[str, str]:
    return {
        "workspace.yaml": workspace_yaml(),
        "clients.yaml": clients_yaml(),
        "people.csv": people_csv(),
        "tasks.csv": tasks_csv(world),
        "time_entries.csv": time_entries_csv(world),
    }


def generate(out: Path = WORKSPACE_DIR, answers: Path = ANSWERS_DIR, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Write the demo workspace to `out` and the current month's truth to `answers`; return the files."""
    world = build(seed)
    files = _raw_files(world)
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        invoices = bill_history(world, Path(scratch))
    payments = _payments(Random(seed + 1), invoices)
    billed = {i: inv.number for inv in invoices for i in inv.entry_ids}
    files["invoices.csv"] = invoices_csv(invoices)
    files["entry_labels.csv"] = _labels(world, HISTORY_MONTHS, billed)
    files["payments.csv"] = _csv(("id", "date", "amount", "currency", "payer", "reference"), (
        (p.id, p.day.isoformat(), format_money(p.amount), p.currency, p.payer, p.reference) for p in payments))
    files["payment_labels.csv"] = _csv(("payment_id", "invoice_numbers"),
                                       ((p.id, ";".join(p.invoices)) for p in payments))
    files["README.md"] = readme(world, invoices, payments)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    answers.mkdir(parents=True, exist_ok=True)
    current = MONTHS[-1]
    label_file = f"labels_{current[0]}-{current[1]:02d}.csv"
    (answers / label_file).write_text(_labels(world, [current], {}), encoding="utf-8")
    return files


def readme(world: World, invoices: list[Invoice], payments: list[Payment]) -> str:
    counts: dict[str, int] = {}
    for e in world.entries:
        if e.anomaly:
            counts[e.anomaly] = counts.get(e.anomaly, 0) + 1
    counts["unlogged_task"] = sum(1 for t in world.tasks if t.silent)
    lines = [
        f"# {FIRM}: the bundled demo workspace",
        "",
        "Generated by `python -m tools.demo.make_parallax` (seeded, deterministic): edit the generator, not",
        "these files. A design, development and brand agency; base currency GBP; 12 people; 8 clients that",
        "together use every billing model and rule of WORKSPACE.md. July-September 2026 are invoiced (priced by",
        "evals/pricer.py, independent of the engine, from the true categories); October 2026 is the current",
        "month, not yet invoiced.",
        "Its truth lives outside the workspace, in `../answers/labels_2026-10.csv`.",
        "",
        "| client | currency | tax | terms | model | group by | rounding | rules |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in CLIENTS:
        model: str = c.model
        if c.retainer:
            model += f" {c.retainer[0]} incl. {c.retainer[1]} h, then {c.retainer[2]}/h"
        if c.milestones:
            model += f" ({len(c.milestones)} milestones)"
        rules = ", ".join(f"{k} {' '.join(v.values())}" for k, v in c.rules) or "none"
        lines.append(f"| {c.id} | {c.currency} | {c.tax_rate} | {c.terms} d | {model} | {c.group_by} | "
                     f"{c.rounding[0]} min {c.rounding[1]} | {rules.replace('|', '&#124;')} |")
    lines += [
        "",
        f"{len(world.entries)} time entries, {sum(1 for e in world.entries if not e.billable)} of them not billable; "
        f"{len(world.tasks)} tasks; {len(invoices)} invoices; {len(payments)} payments.",
        "",
        "Deliberate anomalies (entries; `unlogged_task` counts tasks): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".",
        "Each entry carries at most one kind (`entry_labels.csv`, column `anomaly`); an `unlogged_task` row",
        "carries the task id in `entry_id`, as a draft reports it. One October entry's notes try a prompt",
        "injection; it is billed for the hours it records, like any other.",
        "",
        f"Payments (`payments.csv`, truth in `payment_labels.csv`) were exported on {SNAPSHOT}: exact payments",
        "with fuzzy or missing references, a part payment, one payment for two invoices, one unrelated receipt;",
        "some invoices are overdue.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=WORKSPACE_DIR, help="the workspace folder to write")
    parser.add_argument("--answers", type=Path, default=ANSWERS_DIR, help="where the current month's truth goes")
    args = parser.parse_args(argv)
    files = generate(args.out, args.answers, args.seed)
    for name, text in files.items():
        print(f"{args.out / name}: {len(text.encode('utf-8')):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
