"""Generate the drift eval workspaces: history in one phrasing, a last month partly in another.

    python -m evals.workspaces.make_drift [--seed N] [--only drift_agency|drift_law] [--out DIR]

Writes `evals/workspaces/drift_agency/` and `evals/workspaces/drift_law/` (WORKSPACE.md v1 folders) from the
specs in `drift_agency_spec.py` and `drift_law_spec.py`. The same seed gives the same bytes:
`random.Random(seed)` is the only randomness and nothing reads the clock.

How a firm's world is made:
1. a few open tasks per client (tasks.csv), and fixed-fee milestones completed on their dates;
2. for every person and working day of the four months, a few entries over the clients they staff, each
   with a true category and notes from that category's templates: the `history` ones in the first three
   months; in the last month about a third of the entries use the `novel` templates instead, and the
   newcomer (no history at all) writes from the `terse` ones;
3. some empty and vague notes (the vague ones in the last month partly in new words), a few non-billable
   entries, then about 2 % of anomalies: later duplicate copies, weekend work, invalid hours, another
   client's task id in the notes (`wrong_project`) and year typos (`future_date`);
4. every month, the last one included, is priced by the independent pricer (`evals.pricer`) from the true
   categories, with the anomalies a reviewer holds left out; invoices.csv, entry_labels.csv (all four
   months) and drift.csv (the last month's `entry_id,phrasing,newcomer`) follow.
"""

from __future__ import annotations

import argparse
import calendar
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

from evals.pricer import PricedInvoice, issue_and_due, price_months
from evals.workspaces import DRIFT_DIRS
from evals.workspaces.drift_agency_spec import FIRM as AGENCY
from evals.workspaces.drift_law_spec import FIRM as LAW
from evals.workspaces.drift_spec import CategorySpec, ClientSpec, FirmSpec, PersonSpec
from tools.demo.make_parallax import LABEL_HEADER, _csv, _pick, _plain, _typo
from tools.domain import HELD_KINDS
from tools.money import to_cents

FIRMS: dict[str, FirmSpec] = {AGENCY.key: AGENCY, LAW.key: LAW}
DEFAULT_SEEDS = {AGENCY.key: 20260831, LAW.key: 20260832}
NOVEL_SHARE = 1 / 3
"""Share of the last month's entries (the newcomer's aside) written in phrasing the history never uses."""
DRIFT_HEADER = ("entry_id", "phrasing", "newcomer")
STEP = {"tenth": 6, "quarter": 15, "timer": 1}
INJECTED_PER_MONTH = {"duplicate": 4, "weekend": 3, "invalid_hours": 2, "wrong_project": 2, "future_date": 1}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Task:
    id: str
    client: ClientSpec
    title: str
    category: str
    completed_at: date | None = None
    milestone_amount: str = ""


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
    hours_text: str | None = None
    billable: bool = True
    anomaly: str = ""
    meant: date | None = None
    locked: bool = False
    phrasing: str = "history"
    id: str = ""

    @property
    def month(self) -> tuple[int, int]:
        day = self.meant or self.day
        return day.year, day.month

    def hours(self) -> str:
        if self.hours_text is not None:
            return self.hours_text
        hours = Decimal(self.minutes) / 60
        return _plain(to_cents(hours)) if self.person.style == "timer" else _plain(hours)


# ----------------------------------------------------------------------------------------------------
# Phrasing


def fill(rng: Random, template: str, client: ClientSpec, person: PersonSpec, firm: FirmSpec) -> str:
    """A template with its placeholders filled from the client's words (and a colleague, a number)."""
    others = [p.name.split()[0] for p in firm.people if p.name != person.name and not p.newcomer]

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name == "colleague":
            return rng.choice(others)
        if name == "n":
            return str(rng.randint(1, 6))
        if name == "sec":
            return rng.choice(("4", "7.2", "12", "9(b)", "15.3"))
        return rng.choice(client.words[name])

    return _PLACEHOLDER.sub(value, template)


def _notes(rng: Random, firm: FirmSpec, person: PersonSpec, client: ClientSpec, category: CategorySpec,
           last: bool) -> tuple[str, str, str]:
    """(notes, phrasing, anomaly) for one entry."""
    r = rng.random()
    if r < 0.02:
        return "", "history", "missing_description"
    if r < 0.055:
        if last and (person.newcomer or rng.random() < 0.5):
            return rng.choice(firm.vague_novel), "novel", "vague_description"
        return rng.choice(firm.vague_history), "history", "vague_description"
    if person.newcomer:
        return fill(rng, rng.choice(category.terse), client, person, firm).lower(), "novel", ""
    novel = last and rng.random() < NOVEL_SHARE
    text = fill(rng, rng.choice(category.novel if novel else category.history), client, person, firm)
    if rng.random() < person.sloppy:
        text = _typo(rng, text)
    if rng.random() < person.lowercase:
        text = text.lower()
    return text, "novel" if novel else "history", ""


# ----------------------------------------------------------------------------------------------------
# The world


def _working_days(firm: FirmSpec, year: int, month: int) -> list[date]:
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    return [d for d in days if d.weekday() < 5 and d not in firm.bank_holidays]


def _make_tasks(rng: Random, firm: FirmSpec) -> list[Task]:
    tasks: list[Task] = []
    titled = [c for c in firm.categories if c.task_titles]
    for client in firm.clients:
        for n in range(6):
            category = rng.choice(titled)
            person = firm.people[0]
            title = fill(rng, rng.choice(category.task_titles), client, person, firm)
            tasks.append(Task(f"{client.prefix}-{101 + n}", client, title, category.id))
        for n, (title, amount, done) in enumerate(client.milestones, 1):
            tasks.append(Task(f"{client.prefix}-M{n}", client, title, "", date.fromisoformat(done), amount))
    return tasks


def _entry(rng: Random, firm: FirmSpec, day: date, person: PersonSpec, client: ClientSpec, category: CategorySpec,
           hours: float, tasks: list[Task]) -> Entry:
    step = STEP[person.style]
    minutes = max(step, round(hours * 60 / step) * step, 5)
    e = Entry(day, person, client, category.id, minutes)
    last = (day.year, day.month) == firm.months[-1]
    e.notes, e.phrasing, e.anomaly = _notes(rng, firm, person, client, category, last)
    specific = rng.choice(category.task_names)
    e.task = specific if e.anomaly or category.id == firm.internal or rng.random() >= client.coarse \
        else rng.choice(firm.coarse_tasks)
    e.project_code = f"{client.prefix}-001"
    if category.id == firm.internal and rng.random() < 0.5:
        e.project_code = f"{client.prefix}-GEN"
    for code, share in client.side_projects:
        if category.id != firm.internal and rng.random() < share:
            e.project_code = code
    milestones = [t for t in tasks if t.client is client and t.completed_at is not None and t.completed_at >= day]
    if milestones and category.id != firm.internal and rng.random() < 0.4:
        e.task_ref = min(milestones, key=lambda t: t.completed_at or day).id
        return e
    matching = [t for t in tasks if t.client is client and t.category == category.id]
    if matching and rng.random() < 0.35:
        task = rng.choice(matching)
        if rng.random() < 0.75 or not e.notes or e.anomaly:
            e.task_ref = task.id
        else:
            e.notes = f"{task.id} {e.notes}"
    return e


def _day(rng: Random, firm: FirmSpec, day: date, person: PersonSpec, tasks: list[Task]) -> list[Entry]:
    low, high = firm.entries_per_day
    count = rng.randint(low + 1, high + 1) if person.newcomer else rng.randint(low, high)
    clients = {c.id: c for c in firm.clients}
    raw: list[tuple[ClientSpec, CategorySpec, float]] = []
    for _ in range(count):
        client = clients[_pick(rng, person.clients)]
        category = firm.category(_pick(rng, firm.mixes[person.mix]))
        lo, hi = category.hours
        raw.append((client, category, rng.uniform(lo, hi)))
    scale = min(1.0, rng.uniform(5.5, 8.5) / sum(h for _, _, h in raw))
    return [_entry(rng, firm, day, person, c, cat, h * scale, tasks) for c, cat, h in raw]


def build(firm: FirmSpec, seed: int) -> tuple[list[Task], list[Entry]]:
    """Every task and entry of the firm, in file order, with ids."""
    rng = Random(seed)
    tasks = _make_tasks(rng, firm)
    entries: list[Entry] = []
    for year, month in firm.months:
        last = (year, month) == firm.months[-1]
        for day in _working_days(firm, year, month):
            for person in firm.people:
                if (person.newcomer and not last) or rng.random() < 0.06:
                    continue
                entries += _day(rng, firm, day, person, tasks)
    for e in entries:
        if not e.anomaly and rng.random() < 0.025:
            e.billable, e.notes, e.category, e.locked = False, rng.choice(firm.non_billable), firm.internal, True
            e.task, e.task_ref, e.phrasing = "Non-billable", "", "history"
    _inject(rng, firm, entries, tasks)
    order = {p.name: n for n, p in enumerate(firm.people)}
    entries.sort(key=lambda e: (e.meant or e.day, order[e.person.name], e.anomaly == "duplicate"))
    _no_accidental_duplicates(entries)
    for n, e in enumerate(entries, 1):
        e.id = f"{firm.id_prefix}{n:05d}"
    return tasks, entries


def _inject(rng: Random, firm: FirmSpec, entries: list[Entry], tasks: list[Task]) -> None:
    """About 2 % of entries, each kind a few times a month, each entry at most one kind."""
    milestones = {t.id for t in tasks if t.milestone_amount}
    for year, month in firm.months:
        pool = [e for e in entries if e.month == (year, month) and e.billable and not e.anomaly and not e.locked
                and e.task_ref not in milestones]
        rng.shuffle(pool)
        for kind, count in INJECTED_PER_MONTH.items():
            for _ in range(count):
                e = pool.pop()
                e.locked = True
                if kind == "duplicate":
                    entries.append(Entry(e.day, e.person, e.client, e.category, e.minutes, e.notes, e.task,
                                         e.project_code, e.task_ref, anomaly="duplicate", locked=True,
                                         phrasing=e.phrasing))
                    continue
                e.anomaly = kind
                if kind == "weekend":
                    saturday = e.day + timedelta(days=5 - e.day.weekday())
                    if saturday.month != month:
                        saturday -= timedelta(days=7)
                    e.day = saturday + timedelta(days=rng.randint(0, 1))
                elif kind == "invalid_hours":
                    e.hours_text = rng.choice(("0", "-0.5", "25", "0.0", "30"))
                elif kind == "wrong_project":
                    other = rng.choice([t for t in tasks if t.client is not e.client and not t.milestone_amount])
                    e.notes, e.task_ref = f"{e.notes} re {other.id}", ""
                elif kind == "future_date":
                    e.meant, e.day = e.day, e.day.replace(year=e.day.year + 1)


def _duplicate_key(e: Entry) -> tuple[object, ...]:
    return (e.person.name, e.client.id, e.day, Decimal(e.hours()), " ".join(e.notes.lower().split()),
            e.project_code, e.task, e.task_ref)


def _no_accidental_duplicates(entries: list[Entry]) -> None:
    """Terse notes repeat: make sure only the deliberate copies look like duplicates of an earlier row."""
    seen: set[tuple[object, ...]] = set()
    for e in entries:
        if e.anomaly == "duplicate":
            continue
        while _duplicate_key(e) in seen and e.hours_text is None:
            e.minutes += STEP[e.person.style]
        seen.add(_duplicate_key(e))


# ----------------------------------------------------------------------------------------------------
# Files


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else _q(text)


def _flow(mapping: dict[str, str], bare: Iterable[str] = ()) -> str:
    keep = set(bare)
    return "{" + ", ".join(f"{_key(k)}: {v if k in keep else _q(v)}" for k, v in mapping.items()) + "}"


def workspace_yaml(firm: FirmSpec) -> str:
    lines = [f"firm: {_q(firm.firm)}", f"base_currency: {firm.base_currency}",
             f"invoice_number_format: {_q(firm.invoice_number_format)}", "categories:"]
    for c in firm.categories:
        lines += [f"  - id: {c.id}", f"    label: {_q(c.label)}",
                  f"    examples: [{', '.join(_q(x) for x in c.examples)}]"]
    lines.append("reminders: {before_due_days: [3], on_due: true, after_due_days: [7, 21], escalate_after_days: 45}")
    return "\n".join(lines) + "\n"


def clients_yaml(firm: FirmSpec) -> str:
    lines = ["clients:"]
    for c in firm.clients:
        lines += [
            f"  - id: {c.id}", f"    name: {_q(c.name)}", f"    aliases: [{', '.join(_q(a) for a in c.aliases)}]",
            f"    currency: {c.currency}", f"    tax_rate: {_q(c.tax_rate)}", f"    payment_terms_days: {c.terms}",
            f"    contact_email: {c.email}", "    billing:", f"      model: {c.model}",
        ]
        if c.retainer:
            amount, included, overage = c.retainer
            terms = {"amount": amount, "included_hours": included, "overage_rate": overage}
            lines.append(f"      retainer: {_flow(terms)}")
        lines.append("    rates:")
        for name in ("default", "by_role", "by_category", "by_person"):
            value = c.rates.get(name)
            if isinstance(value, str):
                lines.append(f"      {name}: {_q(value)}")
            elif isinstance(value, dict):
                lines.append(f"      {name}: {_flow(value)}")
        lines += [f"    rounding: {{increment_minutes: {c.rounding[0]}, mode: {c.rounding[1]}}}",
                  f"    group_by: {c.group_by}"]
        lines.append("    rules:" if c.rules else "    rules: []")
        lines += [f"      - {kind}: {_flow(spec, ('category',))}" for kind, spec in c.rules]
    return "\n".join(lines) + "\n"


def people_csv(firm: FirmSpec) -> str:
    domain = re.sub(r"[^a-z]", "", firm.firm.lower().split()[0]) + ".example"
    return _csv(("person", "role", "email"), (
        (p.name, p.role, p.name.lower().replace(" ", ".") + "@" + domain) for p in firm.people))


def tasks_csv(tasks: list[Task]) -> str:
    header = ("id", "client", "project_code", "title", "status", "completed_at", "milestone_amount", "assignee")
    return _csv(header, ((t.id, t.client.id, f"{t.client.prefix}-001", t.title, "done" if t.completed_at else "open",
                          t.completed_at.isoformat() if t.completed_at else "", t.milestone_amount, "")
                         for t in tasks))


def time_entries_csv(entries: list[Entry]) -> str:
    header = ("id", "date", "person", "client", "project_code", "task", "notes", "hours", "start", "end",
              "billable", "task_ref")
    return _csv(header, ((e.id, e.day.isoformat(), e.person.name, e.client.id, e.project_code, e.task, e.notes,
                          e.hours(), "", "", "true" if e.billable else "false", e.task_ref) for e in entries))


@dataclass
class Invoice:
    number: str
    priced: PricedInvoice
    issue: date
    due: date


def bill(firm: FirmSpec, entries: list[Entry], root: Path) -> list[Invoice]:
    """Price every client's every month with the independent pricer, from the true categories."""
    from tools.workspace import load_workspace

    ws = load_workspace(root)
    categories = {e.id: e.category for e in entries}
    held = {e.id for e in entries if e.anomaly in HELD_KINDS}
    invoices: list[Invoice] = []
    for seq, priced in enumerate(price_months(ws, firm.months, categories, held), firm.first_seq):
        issue, due = issue_and_due(ws.client(priced.client), priced.period)
        invoices.append(Invoice(firm.invoice_number_format.format(year=issue.year, seq=seq), priced, issue, due))
    return invoices


INVOICE_HEADER = ("invoice_number", "client", "period_start", "period_end", "issue_date", "due_date", "currency",
                  "line_no", "description", "category", "quantity", "unit_price", "amount", "code", "subtotal", "tax",
                  "total", "status", "paid_date")


def invoices_csv(invoices: list[Invoice]) -> str:
    rows = []
    for inv in invoices:
        p = inv.priced
        head = {"invoice_number": inv.number, "client": p.client, "period_start": p.period.start.isoformat(),
                "period_end": p.period.end.isoformat(), "issue_date": inv.issue.isoformat(),
                "due_date": inv.due.isoformat(), "currency": p.currency, "status": "sent", "paid_date": ""}
        for row in p.rows():
            merged = {**head, **row}
            rows.append(tuple(merged[k] for k in INVOICE_HEADER))
    return _csv(INVOICE_HEADER, rows)


def labels_csv(entries: list[Entry], billed: dict[str, str]) -> str:
    return _csv(LABEL_HEADER, ((e.id, e.category, "true" if e.id in billed else "false", billed.get(e.id, ""),
                                e.anomaly) for e in entries))


def drift_csv(firm: FirmSpec, entries: list[Entry]) -> str:
    return _csv(DRIFT_HEADER, ((e.id, e.phrasing, "true" if e.person.newcomer else "false")
                               for e in entries if e.month == firm.months[-1]))


def readme(firm: FirmSpec, entries: list[Entry], invoices: list[Invoice]) -> str:
    last = firm.months[-1]
    current = [e for e in entries if e.month == last]
    kinds: dict[str, int] = {}
    for e in entries:
        if e.anomaly:
            kinds[e.anomaly] = kinds.get(e.anomaly, 0) + 1
    newcomer = next(p for p in firm.people if p.newcomer)
    first, final = date(*firm.months[0], 1), date(*last, 1)
    lines = [
        f"# {firm.firm}: a drift eval workspace",
        "",
        "Generated by `python -m evals.workspaces.make_drift` (seeded, deterministic): edit the generator or the",
        f"spec (`{firm.key}_spec.py`), not these files. {first:%B}-{final:%B %Y}; every month is invoiced by the",
        "independent pricer (`evals/pricer.py`) from the true categories, the last one too, so a replay can score",
        f"it. The first three months use one phrasing; in {final:%B} about a third of the notes use templates the",
        f"history never uses, and {newcomer.name} ({newcomer.role}, no history) joins and types in shorthand.",
        "`drift.csv` says, for each entry of the last month, which (`phrasing`: history | novel; `newcomer`).",
        "",
        "| client | currency | tax | model | group by | rounding | rules |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in firm.clients:
        model = c.model + (f" {c.retainer[0]} incl. {c.retainer[1]} h, then {c.retainer[2]}/h" if c.retainer else "")
        rules = ", ".join(f"{k} {' '.join(v.values())}" for k, v in c.rules) or "none"
        lines.append(f"| {c.id} | {c.currency} | {c.tax_rate} | {model} | {c.group_by} | "
                     f"{c.rounding[0]} min {c.rounding[1]} | {rules.replace('|', '&#124;')} |")
    novel = sum(1 for e in current if e.phrasing == "novel" and not e.person.newcomer)
    lines += [
        "",
        f"{len(entries)} time entries ({sum(1 for e in entries if not e.billable)} not billable), "
        f"{len(invoices)} invoices. Last month: {len(current)} entries, {novel} in novel phrasing, "
        f"{sum(1 for e in current if e.person.newcomer)} by the newcomer.",
        "Anomalies (`entry_labels.csv`, column `anomaly`): " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + ".",
    ]
    return "\n".join(lines) + "\n"


def generate(firm: FirmSpec, out: Path | None = None, seed: int | None = None) -> dict[str, str]:
    """Write one drift workspace to `out` (default: its folder in evals/workspaces); return its files by name."""
    target = out if out is not None else DRIFT_DIRS[firm.key]
    tasks, entries = build(firm, DEFAULT_SEEDS[firm.key] if seed is None else seed)
    files = {"workspace.yaml": workspace_yaml(firm), "clients.yaml": clients_yaml(firm), "people.csv": people_csv(firm),
             "tasks.csv": tasks_csv(tasks), "time_entries.csv": time_entries_csv(entries)}
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        invoices = bill(firm, entries, Path(scratch))
    billed = {i: inv.number for inv in invoices for i in inv.priced.billed}
    files["invoices.csv"] = invoices_csv(invoices)
    files["entry_labels.csv"] = labels_csv(entries, billed)
    files["drift.csv"] = drift_csv(firm, entries)
    files["README.md"] = readme(firm, entries, invoices)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=sorted(FIRMS), default=None, help="one workspace (default: both)")
    parser.add_argument("--seed", type=int, default=None, help="default: each workspace's own seed")
    parser.add_argument("--out", type=Path, default=None, help="the workspace folder to write (with --only)")
    args = parser.parse_args(argv)
    if args.out is not None and args.only is None:
        parser.error("--out needs --only")
    for key in [args.only] if args.only else sorted(FIRMS):
        out = args.out or DRIFT_DIRS[key]
        for name, text in generate(FIRMS[key], out, args.seed).items():
            print(f"{out / name}: {len(text.encode('utf-8')):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
