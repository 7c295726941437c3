"""Generate the Hartley Obi LLP eval workspace (a 9-person law firm) from one seed.

    python -m evals.workspaces.make_lawfirm [--seed N] [--out DIR]

Writes `evals/workspaces/lawfirm/` (a WORKSPACE.md v1 folder). The same seed gives the same bytes:
`random.Random(seed)` is the only randomness and nothing reads the clock.

How the world is made:
1. a matter list per client (tasks.csv, all open);
2. for every fee earner and working day of July-October 2026, 2-5 entries over the clients they staff,
   each with a true category and notes typed the way lawyers type them ("redlines to MSA §4", "call w/
   opposing counsel re: discovery", "doc review – production vol. 3"), some vague, some empty, some misspelt;
3. a few non-billable entries, then about 2 % of anomalies: later duplicate copies, weekend work, invalid
   hours, another client's matter id in the notes (`wrong_project`) and year typos (`future_date`);
4. the raw files are loaded with `load_workspace` and July-September are priced by the independent pricer
   (`evals.pricer`, which the engine agrees with to the cent) from the true categories; invoices, entry
   labels, payments (exact, one partial, one with a mangled reference, one unrelated) and their labels
   follow. October is the
   current month, not yet invoiced.
"""

from __future__ import annotations

import argparse
import calendar
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

from evals.workspaces import LAWFIRM_DIR
from tools.demo.make_parallax import LABEL_HEADER, _csv, _pick, _plain, _typo
from tools.money import format_money, format_quantity, to_cents

DEFAULT_SEED = 20260704
FIRM = "Hartley Obi LLP"
INVOICE_NUMBER_FORMAT = "HO-{year}-{seq:04d}"
FIRST_INVOICE_SEQ = 311
MONTHS: tuple[tuple[int, int], ...] = ((2026, 7), (2026, 8), (2026, 9), (2026, 10))
HISTORY_MONTHS = MONTHS[:-1]
SNAPSHOT = date(2026, 10, 31)
BANK_HOLIDAYS = frozenset({date(2026, 8, 31)})

# id, label, examples
CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("client_conference", "Client conferences & calls",
     ("call with client re strategy", "client meeting", "conference with GC", "update call w/ client")),
    ("drafting", "Drafting & revising documents",
     ("redlines to MSA", "draft motion to compel", "revise SPA", "draft board minutes", "mark-up of lease")),
    ("legal_research", "Legal research",
     ("research re: statute of limitations", "case law research", "memo on enforceability", "Westlaw search")),
    ("document_review", "Document review & disclosure",
     ("doc review production vol. 3", "privilege review", "review data room", "disclosure review")),
    ("court_filings", "Court attendance & filings",
     ("file notice of appearance", "hearing attendance", "prep for depo of J. Smith", "bundle for hearing")),
    ("negotiation", "Negotiation & correspondence",
     ("call w/ opposing counsel re: discovery", "emails w/ client re settlement", "letter to other side",
      "negotiation call")),
    ("internal_admin", "Internal & file administration",
     ("file opening", "conflict check", "time entry review", "internal team meeting", "billing review")),
    ("travel", "Travel",
     ("travel to court", "train to Manchester for meeting", "travel to client offices")),
)
CATEGORY_IDS = tuple(c[0] for c in CATEGORIES)


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    clients: dict[str, float]
    style: str  # how hours are typed: "tenth" (0.1 h), "quarter" (0.25 h), "timer" (to 0.01 h)
    sloppy: float


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    aliases: tuple[str, ...]
    currency: str
    tax_rate: str
    terms: int
    email: str
    prefix: str
    model: str  # hourly | retainer
    retainer: tuple[str, str, str] | None  # amount, included hours, overage rate
    default: str
    by_role: dict[str, str]
    by_category: dict[str, str]
    group_by: str
    rules: tuple[tuple[str, dict[str, str]], ...]
    payer: str
    docs: tuple[str, ...]
    topics: tuple[str, ...]
    witnesses: tuple[str, ...]
    places: tuple[str, ...]


PEOPLE: tuple[Person, ...] = (
    Person("Eleanor Hartley", "partner", {"meridian": 0.4, "atlas": 0.35, "brookfield": 0.25}, "quarter", 0.05),
    Person("Marcus Obi", "partner", {"kraft": 0.45, "harbour": 0.25, "atlas": 0.3}, "tenth", 0.08),
    Person("Priya Raman", "associate", {"meridian": 0.6, "brookfield": 0.4}, "tenth", 0.04),
    Person("Tom Whitfield", "associate", {"atlas": 0.7, "meridian": 0.3}, "timer", 0.12),
    Person("Sofia Lindqvist", "associate", {"kraft": 0.75, "harbour": 0.25}, "tenth", 0.06),
    Person("Daniel Reyes", "associate", {"brookfield": 0.5, "harbour": 0.2, "atlas": 0.3}, "quarter", 0.1),
    Person("Hannah Cole", "paralegal", {"meridian": 0.5, "atlas": 0.5}, "tenth", 0.07),
    Person("Jamal Carter", "paralegal", {"kraft": 0.5, "brookfield": 0.5}, "timer", 0.15),
    Person("Lucy Tran", "paralegal", {"harbour": 0.4, "atlas": 0.3, "meridian": 0.3}, "tenth", 0.05),
)

CLIENTS: tuple[Client, ...] = (
    Client("meridian", "Meridian Logistics Ltd", ("Meridian", "MLL"), "GBP", "0.20", 30,
           "ap@meridian-logistics.example", "MER", "hourly",
           None, "260.00", {"partner": "475.00", "associate": "310.00", "paralegal": "145.00"}, {},
           "category", (("exclude", {"category": "internal_admin"}), ("discount", {"percent": "5"})),
           "MERIDIAN LOGISTICS LTD", ("MSA", "SLA", "warehouse lease", "haulage agreement", "NDA"),
           ("limitation of liability", "statute of limitations", "indemnity caps", "TUPE transfer"),
           ("J. Smith", "R. Patel"), ("Birmingham", "the Rolls Building")),
    Client("atlas", "Atlas Ventures Inc.", ("Atlas", "Atlas Ventures"), "USD", "0", 30,
           "payables@atlasventures.example", "ATL", "hourly",
           None, "380.00", {"partner": "690.00", "associate": "440.00", "paralegal": "205.00"}, {},
           "person", (("exclude", {"category": "internal_admin"}), ("cap", {"amount": "92000.00"})),
           "ATLAS VENTURES INC",
           ("SPA", "disclosure letter", "shareholders agreement", "escrow agreement", "W&I policy"),
           ("warranty claims", "enforceability of restrictive covenants", "FDI screening", "earn-out mechanics"),
           ("M. Chen", "K. Osei"), ("New York", "the Rolls Building")),
    Client("kraft", "Kraftwerk Analytik GmbH", ("Kraftwerk", "KWA"), "EUR", "0.19", 14, "rechnungen@kraftwerk.example",
           "KWA", "hourly", None, "340.00", {"partner": "540.00", "associate": "360.00", "paralegal": "170.00"},
           {"travel": "180.00"}, "detailed", (("exclude", {"category": "internal_admin"}),),
           "KRAFTWERK ANALYTIK GMBH", ("DPA", "licence agreement", "SaaS terms", "reseller agreement"),
           ("GDPR art. 28", "Schrems II transfers", "software licensing", "IP assignment"),
           ("H. Weber", "A. Becker"), ("Munich", "Frankfurt")),
    Client("brookfield", "Brookfield Estates plc", ("Brookfield", "BEP"), "GBP", "0.20", 30,
           "invoices@brookfield-estates.example", "BRK", "retainer", ("36000.00", "150", "295.00"), "300.00",
           {"partner": "450.00", "associate": "295.00", "paralegal": "140.00"}, {}, "category",
           (("exclude", {"category": "internal_admin"}),), "BROOKFIELD ESTATES PLC",
           ("lease", "licence for alterations", "rent review memo", "TR1"),
           ("forfeiture", "dilapidations", "service charge disputes", "break clauses"),
           ("P. Morgan", "S. Ahmed"), ("Leeds", "the County Court")),
    Client("harbour", "Harbour Dental Group Ltd", ("Harbour Dental", "HDG"), "GBP", "0.20", 21,
           "accounts@harbourdental.example", "HDG", "retainer", ("24000.00", "95", "260.00"), "260.00",
           {"partner": "420.00", "associate": "280.00", "paralegal": "135.00"}, {}, "person", (),
           "HARBOUR DENTAL GROUP",
           ("employment contract", "settlement agreement", "associate agreement", "CQC response"),
           ("unfair dismissal", "restrictive covenants", "CQC regulations", "holiday pay"),
           ("L. Grant", "D. Farrow"), ("Bristol", "the Employment Tribunal")),
)
CLIENT_BY_ID = {c.id: c for c in CLIENTS}

ROLE_MIX: dict[str, dict[str, float]] = {
    "partner": {"client_conference": 3, "drafting": 2, "legal_research": 0.5, "document_review": 0.5,
                "court_filings": 1, "negotiation": 3, "internal_admin": 1, "travel": 0.5},
    "associate": {"client_conference": 1, "drafting": 3, "legal_research": 2.5, "document_review": 1.5,
                  "court_filings": 1, "negotiation": 1.5, "internal_admin": 0.6, "travel": 0.3},
    "paralegal": {"client_conference": 0.2, "drafting": 0.8, "legal_research": 0.5, "document_review": 4,
                  "court_filings": 2, "negotiation": 0.4, "internal_admin": 1.5, "travel": 0.2},
}
DURATIONS: dict[str, tuple[float, float]] = {
    "client_conference": (0.2, 1.2), "drafting": (0.5, 3.0), "legal_research": (0.5, 2.5),
    "document_review": (0.8, 3.5), "court_filings": (0.3, 2.5), "negotiation": (0.2, 1.2),
    "internal_admin": (0.1, 0.6), "travel": (1.0, 3.0),
}
NOTES: dict[str, tuple[str, ...]] = {
    "client_conference": (
        "call w/ client re: {topic}", "conf call with GC re {doc}", "mtg w/ client to discuss {doc}",
        "tc client re next steps", "update call w/ client re {topic}", "attendance on client re {doc}",
        "client conference - strategy on {topic}", "zoom w/ client team re {doc} comments",
    ),
    "drafting": (
        "redlines to {doc} §{sec}", "draft motion to compel", "revise {doc} per client comments",
        "draft {doc} - first turn", "mark-up of {doc}", "drafting {doc} schedule {n}",
        "draft witness stmt of {witness}",
        "further amends to {doc} cl. {sec}", "draft advice note re {topic}", "prepare ancillaries for {doc}",
    ),
    "legal_research": (
        "research re: {topic}", "research re statute of limitations", "case law search re {topic}",
        "memo on {topic}", "westlaw research - {topic}", "review authorities re {topic}",
        "research point on {topic} for {doc}",
    ),
    "document_review": (
        "doc review – production vol. {n}", "doc review - production vol. {n}", "privilege review batch {n}",
        "review data room folder {n}", "first-level review of custodian docs", "review {doc} and exhibits",
        "disclosure review - tranche {n}", "file review", "review of docs received from other side",
    ),
    "court_filings": (
        "file notice of appearance", "prep for depo of {witness}", "prepare hearing bundle", "attend hearing",
        "e-filing of {doc} w/ court", "prep for CMC", "file and serve defence", "draft index for trial bundle",
    ),
    "negotiation": (
        "call w/ opposing counsel re: discovery", "emails w/ client re settlement", "letter to other side re {doc}",
        "negotiation call re {doc} §{sec}", "emails w/ opp. counsel re {topic}", "without prejudice call re {topic}",
        "correspondence w/ counterparty re {doc}",
    ),
    "internal_admin": (
        "file opening", "conflict check", "internal team mtg re matter plan", "time entry review",
        "update matter budget", "billing review", "KYC / AML checks", "file maintenance",
    ),
    "travel": (
        "travel to {place}", "train to {place} for mtg", "travel to/from {place}", "travel - {place} hearing",
    ),
}
VAGUE = ("misc", "Misc.", "admin", "general work", "wip", "catch up", "various", "ongoing", "follow up", "misc stuff")
NON_BILLABLE = ("pro bono clinic prep", "write-off: research duplicated", "CPD webinar", "pitch prep")
TASK_TITLES: dict[str, tuple[str, ...]] = {
    "drafting": ("{doc} renegotiation", "{doc} - new template", "Amendment to {doc}"),
    "legal_research": ("Advice on {topic}", "Opinion re {topic}"),
    "document_review": ("Disclosure exercise", "Due diligence - {doc}"),
    "court_filings": ("Claim re {topic}", "Hearing preparation"),
    "negotiation": ("Settlement negotiations", "{doc} negotiation"),
}
FIRST_DAY, LAST_DAY = date(2026, 7, 1), date(2026, 10, 31)


@dataclass
class Task:
    id: str
    client: Client
    title: str
    category: str


@dataclass
class Entry:
    day: date
    person: Person
    client: Client
    category: str
    minutes: int
    notes: str = ""
    task: str = ""
    task_ref: str = ""
    project_code: str = ""
    hours_text: str | None = None
    billable: bool = True
    anomaly: str = ""
    meant: date | None = None
    locked: bool = False
    id: str = ""

    @property
    def month(self) -> tuple[int, int]:
        day = self.meant or self.day
        return day.year, day.month

    def hours(self) -> str:
        if self.hours_text is not None:
            return self.hours_text
        return _plain(to_cents(Decimal(self.minutes) / 60)) if self.person.style == "timer" \
            else _plain(Decimal(self.minutes) / 60)


def _working_days(year: int, month: int) -> list[date]:
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    return [d for d in days if d.weekday() < 5 and d not in BANK_HOLIDAYS]


def _fill(rng: Random, template: str, client: Client) -> str:
    values = {"doc": rng.choice(client.docs), "topic": rng.choice(client.topics),
              "witness": rng.choice(client.witnesses),
              "place": rng.choice(client.places), "n": str(rng.randint(1, 6)),
              "sec": rng.choice(("4", "7.2", "12", "12.3", "9(b)", "15"))}
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], template)


def _make_tasks(rng: Random) -> list[Task]:
    tasks: list[Task] = []
    for client in CLIENTS:
        for n in range(8):
            category = rng.choice(sorted(TASK_TITLES))
            title = _fill(rng, rng.choice(TASK_TITLES[category]), client)
            tasks.append(Task(f"{client.prefix}-{101 + n}", client, title, category))
    return tasks


STEP = {"tenth": 6, "quarter": 15, "timer": 1}


def _minutes(rng: Random, person: Person, hours: float) -> int:
    step = STEP[person.style]
    minutes = max(step, round(hours * 60 / step) * step)
    if person.style == "timer":
        minutes = max(4, minutes)
    return minutes


def _notes(rng: Random, person: Person, client: Client, category: str) -> str:
    r = rng.random()
    if r < 0.025:
        return ""
    if r < 0.06:
        return rng.choice(VAGUE)
    text = _fill(rng, rng.choice(NOTES[category]), client)
    if rng.random() < person.sloppy:
        text = _typo(rng, text)
    if rng.random() < 0.15:
        text = text.lower()
    return text


def _entry(rng: Random, day: date, person: Person, client: Client, category: str, hours: float,
           tasks: dict[str, list[Task]]) -> Entry:
    e = Entry(day, person, client, category, _minutes(rng, person, hours))
    e.notes = _notes(rng, person, client, category)
    e.project_code = f"{client.prefix}-GEN" if category == "internal_admin" else f"{client.prefix}-001"
    e.task = rng.choice(("Legal services", "Matter work", dict((c[0], c[1]) for c in CATEGORIES)[category]))
    matching = [t for t in tasks[client.id] if t.category == category]
    if matching and rng.random() < 0.5:
        task = rng.choice(matching)
        if rng.random() < 0.7:
            e.task_ref = task.id
        elif e.notes and not _is_vagueish(e.notes):
            e.notes = f"{task.id} {e.notes}"
    return e


def _is_vagueish(notes: str) -> bool:
    return notes in VAGUE


def _day(rng: Random, day: date, person: Person, tasks: dict[str, list[Task]]) -> list[Entry]:
    count = rng.randint(2, 5)
    raw: list[tuple[Client, str, float]] = []
    for _ in range(count):
        client = CLIENT_BY_ID[_pick(rng, person.clients)]
        category = _pick(rng, ROLE_MIX[person.role])
        lo, hi = DURATIONS[category]
        raw.append((client, category, rng.uniform(lo, hi)))
    total = sum(h for _, _, h in raw)
    scale = min(1.0, rng.uniform(5.5, 8.5) / total)
    return [_entry(rng, day, person, c, cat, h * scale, tasks) for c, cat, h in raw]


def build(seed: int) -> tuple[list[Task], list[Entry]]:
    rng = Random(seed)
    tasks = _make_tasks(rng)
    by_client: dict[str, list[Task]] = {c.id: [t for t in tasks if t.client.id == c.id] for c in CLIENTS}
    entries: list[Entry] = []
    for year, month in MONTHS:
        for day in _working_days(year, month):
            for person in PEOPLE:
                if rng.random() < 0.06:  # leave, sickness, a day out of the office
                    continue
                entries += _day(rng, day, person, by_client)
    for e in entries:
        if not e.notes.strip():
            e.anomaly = "missing_description"
        elif _is_vagueish(e.notes):
            e.anomaly = "vague_description"
        elif rng.random() < 0.025:
            e.billable, e.notes, e.locked = False, rng.choice(NON_BILLABLE), True
    _inject(rng, entries, tasks)
    entries.sort(key=lambda e: (e.meant or e.day, PEOPLE.index(e.person), e.locked and e.anomaly == "duplicate"))
    for n, e in enumerate(entries, 1):
        e.id = f"T{n:05d}"
    return tasks, entries


def _inject(rng: Random, entries: list[Entry], tasks: list[Task]) -> None:
    """About 2 % of entries: each kind a few times a month, each entry at most one kind."""
    per_month = {"duplicate": 4, "weekend": 3, "invalid_hours": 2, "wrong_project": 2, "future_date": 1}
    for year, month in MONTHS:
        pool = [e for e in entries if e.month == (year, month) and e.billable and not e.anomaly and not e.locked
                and e.notes]
        rng.shuffle(pool)
        for kind, count in per_month.items():
            for _ in range(count):
                e = pool.pop()
                e.locked = True
                if kind == "duplicate":
                    copy = Entry(e.day, e.person, e.client, e.category, e.minutes, e.notes, e.task, e.task_ref,
                                 e.project_code, anomaly="duplicate", locked=True)
                    entries.append(copy)
                    continue
                e.anomaly = kind
                if kind == "weekend":
                    saturday = e.day + timedelta(days=5 - e.day.weekday())
                    if saturday.month != month:
                        saturday -= timedelta(days=7)
                    e.day = saturday + timedelta(days=rng.randint(0, 1))
                    e.notes = rng.choice(("urgent: ", "wknd - ", "")) + e.notes
                elif kind == "invalid_hours":
                    e.hours_text = rng.choice(("0", "-0.5", "25", "0.0", "30"))
                elif kind == "wrong_project":
                    other = rng.choice([t for t in tasks if t.client.id != e.client.id])
                    e.notes = f"{e.notes} re {other.id}"
                    e.task_ref = ""
                elif kind == "future_date":
                    e.meant, e.day = e.day, e.day.replace(year=2027)


# ----------------------------------------------------------------------------------------------------
# Files


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def workspace_yaml() -> str:
    lines = [f"firm: {FIRM}", "base_currency: GBP", f'invoice_number_format: "{INVOICE_NUMBER_FORMAT}"',
             "categories:"]
    for cid, label, examples in CATEGORIES:
        lines += [f"  - id: {cid}", f"    label: {_q(label)}",
                  f"    examples: [{', '.join(_q(x) for x in examples)}]"]
    lines.append("reminders: {before_due_days: [3], on_due: true, after_due_days: [7, 21], escalate_after_days: 45}")
    return "\n".join(lines) + "\n"


def _flow(mapping: dict[str, str], bare: Sequence[str] = ()) -> str:
    return "{" + ", ".join(f"{k}: {v if k in bare else _q(v)}" for k, v in mapping.items()) + "}"


def clients_yaml() -> str:
    lines = ["clients:"]
    for c in CLIENTS:
        lines += [
            f"  - id: {c.id}", f"    name: {_q(c.name)}", f"    aliases: [{', '.join(_q(a) for a in c.aliases)}]",
            f"    currency: {c.currency}", f"    tax_rate: {_q(c.tax_rate)}", f"    payment_terms_days: {c.terms}",
            f"    contact_email: {c.email}", "    billing:", f"      model: {c.model}",
        ]
        if c.retainer:
            amount, included, overage = c.retainer
            spec = {"amount": amount, "included_hours": included, "overage_rate": overage}
            lines.append(f"      retainer: {_flow(spec)}")
        lines += ["    rates:", f"      default: {_q(c.default)}", f"      by_role: {_flow(c.by_role)}",
                  f"      by_category: {_flow(c.by_category)}", "      by_person: {}",
                  "    rounding: {increment_minutes: 6, mode: up}", f"    group_by: {c.group_by}"]
        if not c.rules:
            lines.append("    rules: []")
        else:
            lines.append("    rules:")
            lines += [f"      - {kind}: {_flow(spec, ('category',))}" for kind, spec in c.rules]
    return "\n".join(lines) + "\n"


def people_csv() -> str:
    return _csv(("person", "role", "email"), (
        (p.name, p.role, p.name.lower().replace(" ", ".") + "@hartleyobi.example") for p in PEOPLE))


def tasks_csv(tasks: list[Task]) -> str:
    header = ("id", "client", "project_code", "title", "status", "completed_at", "milestone_amount", "assignee")
    return _csv(header, ((t.id, t.client.id, f"{t.client.prefix}-001", t.title, "open", "", "", "") for t in tasks))


def time_entries_csv(entries: list[Entry]) -> str:
    header = ("id", "date", "person", "client", "project_code", "task", "notes", "hours", "start", "end",
              "billable", "task_ref")
    return _csv(header, ((e.id, e.day.isoformat(), e.person.name, e.client.id, e.project_code, e.task, e.notes,
                          e.hours(), "", "", "true" if e.billable else "false", e.task_ref) for e in entries))


# ----------------------------------------------------------------------------------------------------
# History, payments, labels


@dataclass
class Invoice:
    number: str
    client: Client
    month: tuple[int, int]
    issue: date
    due: date
    rows: list[tuple[str, str, str, str, str]]  # description, category, quantity, unit price, amount
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    entry_ids: list[str]
    status: str = "sent"
    paid_date: date | None = None


def bill_history(entries: list[Entry], root: Path) -> list[Invoice]:
    """July to September, priced by the independent pricer (`evals.pricer`) from the true categories."""
    from evals.pricer import issue_and_due, price_months
    from tools.domain import HELD_KINDS
    from tools.workspace import load_workspace

    ws = load_workspace(root)
    categories = {e.id: e.category for e in entries}
    held = {e.id for e in entries if e.anomaly in HELD_KINDS}
    invoices: list[Invoice] = []
    for seq, priced in enumerate(price_months(ws, HISTORY_MONTHS, categories, held), FIRST_INVOICE_SEQ):
        client = CLIENT_BY_ID[priced.client]
        issue, due = issue_and_due(ws.client(client.id), priced.period)
        rows = [(ln.description.strip(), ln.category, format_quantity(ln.quantity), format_money(ln.unit_price),
                 format_money(ln.amount)) for ln in priced.lines]
        rules = dict(client.rules)
        if priced.discount:
            rows.append((f"Discount {rules['discount']['percent']}%", "discount", "1.00",
                         format_money(priced.discount), format_money(priced.discount)))
        if priced.cap_adjustment:
            rows.append((f"Fee cap of {rules['cap']['amount']} {client.currency} per month", "cap_adjustment",
                         "1.00", format_money(priced.cap_adjustment), format_money(priced.cap_adjustment)))
        invoices.append(Invoice(
            INVOICE_NUMBER_FORMAT.format(year=issue.year, seq=seq), client,
            (priced.period.start.year, priced.period.start.month), issue, due, rows, priced.subtotal, priced.tax,
            priced.total, list(priced.billed)))
    return invoices


@dataclass
class Payment:
    id: str
    day: date
    amount: Decimal
    currency: str
    payer: str
    reference: str
    invoices: list[str]


UNPAID = {("atlas", (2026, 9)), ("brookfield", (2026, 9)), ("kraft", (2026, 9))}
PARTIAL = ("meridian", (2026, 8))
MANGLED = ("kraft", (2026, 8))


def _payments(rng: Random, invoices: list[Invoice]) -> list[Payment]:
    payments: list[Payment] = []
    for inv in invoices:
        key = (inv.client.id, inv.month)
        if key in UNPAID:
            continue
        day = inv.issue + timedelta(days=max(5, inv.client.terms + rng.randint(-12, 3)))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        if day > SNAPSHOT:
            continue
        amount, reference = inv.total, inv.number
        if key == PARTIAL:
            amount, reference = to_cents(inv.total / 2), f"PART PAYMENT {inv.number}"
        elif key == MANGLED:
            seq = inv.number.rsplit("-", 1)[1]
            reference = f"RECHNUNG H0 {seq.replace('3', '8', 1)} LEGAL FEES"
            inv.status, inv.paid_date = "paid", day
        else:
            reference = rng.choice((inv.number, inv.number.lower(), inv.number.replace("-", " "),
                                    f"{inv.client.aliases[-1]} {inv.number}"))
            inv.status, inv.paid_date = "paid", day
        payments.append(Payment("", day, amount, inv.client.currency, inv.client.payer, reference, [inv.number]))
    payments.append(Payment("", date(2026, 9, 15), Decimal("412.50"), "GBP", "LAW SOCIETY", "PRACTISING CERT REFUND",
                            []))
    payments.sort(key=lambda p: (p.day, p.payer))
    for n, p in enumerate(payments, 1):
        p.id = f"BNK-{n:03d}"
    return payments


def invoices_csv(invoices: list[Invoice]) -> str:
    header = ("invoice_number", "client", "period_start", "period_end", "issue_date", "due_date", "currency",
              "line_no", "description", "category", "quantity", "unit_price", "amount", "subtotal", "tax", "total",
              "status", "paid_date")
    rows = []
    for inv in invoices:
        start = date(*inv.month, 1)
        end = date(*inv.month, calendar.monthrange(*inv.month)[1])
        for n, (description, category, quantity, unit, amount) in enumerate(inv.rows, 1):
            rows.append((inv.number, inv.client.id, start.isoformat(), end.isoformat(), inv.issue.isoformat(),
                         inv.due.isoformat(), inv.client.currency, str(n), description, category, quantity, unit,
                         amount, format_money(inv.subtotal), format_money(inv.tax), format_money(inv.total),
                         inv.status, inv.paid_date.isoformat() if inv.paid_date else ""))
    return _csv(header, rows)


def labels_csv(entries: list[Entry], billed: dict[str, str]) -> str:
    rows = [(e.id, e.category, "true" if e.id in billed else "false", billed.get(e.id, ""), e.anomaly)
            for e in entries if e.month in HISTORY_MONTHS]
    return _csv(LABEL_HEADER, rows)


def readme(entries: list[Entry], invoices: list[Invoice], payments: list[Payment]) -> str:
    counts: dict[str, int] = {}
    for e in entries:
        if e.anomaly:
            counts[e.anomaly] = counts.get(e.anomaly, 0) + 1
    lines = [
        f"# {FIRM}: a law-firm eval workspace",
        "",
        "Generated by `python -m evals.workspaces.make_lawfirm` (seeded, deterministic): edit the generator, not",
        "these files. A 9-person law firm (2 partners, 4 associates, 3 paralegals; rates by role); 5 clients,",
        "hourly and monthly retainers, every entry rounded up to 6 minutes. July-September 2026 are invoiced",
        "(priced by evals/pricer.py, independent of the engine, from the true categories); October 2026 is the",
        "current month, not yet invoiced.",
        "",
        "| client | currency | tax | terms | model | group by | rules |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CLIENTS:
        model = c.model + (f" {c.retainer[0]} incl. {c.retainer[1]} h, then {c.retainer[2]}/h" if c.retainer else "")
        rules = ", ".join(f"{k} {' '.join(v.values())}" for k, v in c.rules) or "none"
        lines.append(f"| {c.id} | {c.currency} | {c.tax_rate} | {c.terms} d | {model} | {c.group_by} | {rules} |")
    lines += [
        "",
        f"{len(entries)} time entries, {sum(1 for e in entries if not e.billable)} of them not billable; "
        f"{len(invoices)} invoices; {len(payments)} payments (exported {SNAPSHOT}: one part payment, one with a",
        "mangled reference, one unrelated receipt).",
        "",
        "Anomalies over the four months (labelled in `entry_labels.csv`, column `anomaly`, for July-September):",
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".",
    ]
    return "\n".join(lines) + "\n"


def generate(out: Path = LAWFIRM_DIR, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Write the law-firm workspace to `out`; return its files by name."""
    tasks, entries = build(seed)
    files = {"workspace.yaml": workspace_yaml(), "clients.yaml": clients_yaml(), "people.csv": people_csv(),
             "tasks.csv": tasks_csv(tasks), "time_entries.csv": time_entries_csv(entries)}
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        invoices = bill_history(entries, Path(scratch))
    payments = _payments(Random(seed + 1), invoices)
    billed = {i: inv.number for inv in invoices for i in inv.entry_ids}
    files["invoices.csv"] = invoices_csv(invoices)
    files["entry_labels.csv"] = labels_csv(entries, billed)
    files["payments.csv"] = _csv(("id", "date", "amount", "currency", "payer", "reference"), (
        (p.id, p.day.isoformat(), format_money(p.amount), p.currency, p.payer, p.reference) for p in payments))
    files["payment_labels.csv"] = _csv(("payment_id", "invoice_numbers"),
                                       ((p.id, ";".join(p.invoices)) for p in payments))
    files["README.md"] = readme(entries, invoices, payments)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=LAWFIRM_DIR, help="the workspace folder to write")
    args = parser.parse_args(argv)
    for name, text in generate(args.out, args.seed).items():
        print(f"{args.out / name}: {len(text.encode('utf-8')):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
