"""Payments: reading them (workspace payments.csv, bank CSV with a column mapping, OFX, a ledger) and
matching them to invoices.

Matching is a pure, deterministic function (`match_payments`) over the payments and the invoices
(`tools.receivables.Receivable`, with their balances from a `Book`). Payments are taken in date order;
each one that is confirmed automatically lowers the balances the next one sees. Every result carries a
confidence in [0, 1] and a reason; at or above `MatchPolicy.auto_confirm` it is confirmed, below it the
payment waits in the queue for a person, with the candidate invoices listed.

The evidence, strongest first:
    reference   an invoice number in the payment's reference, even mangled ("inv 2026 0042",
                "INV2026-42", "INV-2026-O014", "RE INV-2026-0007 / 0015", "INVOICE 0006")
    amount      equal to the open balance (of one invoice, or of the invoices referenced together),
                within the workspace's tolerance (the difference is written off, explicitly), a part
                payment (the invoice stays open), or more (the excess is a credit for the client)
    payer       the payer's name against each client's name and aliases

A payment never matches an invoice in another currency automatically; nothing is ever converted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.domain import Client, Issue, Workspace
from tools.files import read_workspace_text
from tools.money import ZERO, format_money, to_cents
from tools.receivables import Book, Receivable

__all__ = [
    "AUTO_CONFIRM",
    "Allocation",
    "BankMapping",
    "Candidate",
    "IncomingPayment",
    "LedgerPaymentLike",
    "MatchPolicy",
    "PaymentLedger",
    "PaymentMatch",
    "RefHit",
    "Tolerance",
    "allocate",
    "from_ledger",
    "from_workspace",
    "load_match_policy",
    "match_payments",
    "parse_references",
    "payer_scores",
    "read_bank_csv",
    "read_ofx",
]

AUTO_CONFIRM = 0.90
"""Default confidence at or above which a match is confirmed without a person."""

PaymentSource = Literal["workspace", "bank", "ledger", "manual"]


class IncomingPayment(BaseModel):
    """Money received: one row of payments.csv, a bank statement credit, or a ledger's payment."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    date: date
    amount: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payer: str = ""
    reference: str = ""
    source: PaymentSource = "workspace"
    linked_invoices: tuple[str, ...] = ()
    """Invoice numbers the source itself links the payment to (a ledger's payment applied to invoices)."""

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts must be decimal strings, not floats")
        return value


@runtime_checkable
class PaymentLedger(Protocol):
    """A ledger that lists the payments it received (the QuickBooks, Xero and Stripe connectors)."""

    def payments_since(self, since: date) -> Sequence[LedgerPaymentLike]:
        """Payments dated `since` or later, each with the invoices the ledger applied it to."""
        ...


# ----------------------------------------------------------------------------------------------------
# Policy


class Tolerance(BaseModel):
    """How far a payment may fall short of (or exceed) the balance and still settle it: the larger of a
    fixed amount and a percentage of the balance. The difference is written off, as its own record."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal = ZERO
    percent: Decimal = ZERO

    @classmethod
    def parse(cls, value: Any) -> Tolerance:
        """"1.00", "0.5%", {"amount": "1.00", "percent": "0.5"}, or a Tolerance."""
        if isinstance(value, Tolerance):
            return value
        if isinstance(value, Mapping):
            return cls.model_validate(value)
        if isinstance(value, float):
            raise ValueError("a tolerance must be a string such as \"1.00\" or \"0.5%\", not a float")
        text = str(value).strip()
        try:
            if text.endswith("%"):
                return cls(percent=Decimal(text[:-1].strip()))
            return cls(amount=Decimal(text))
        except InvalidOperation:
            raise ValueError(f"not a tolerance: {value!r} (write \"1.00\" or \"0.5%\")") from None

    def limit(self, balance: Decimal) -> Decimal:
        return max(self.amount, to_cents(abs(balance) * self.percent / 100))

    def describe(self) -> str:
        parts = [format_money(self.amount)] if self.amount else []
        parts += [f"{self.percent}%"] if self.percent else []
        return " or ".join(parts) or "none"


class MatchPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    tolerance: Tolerance = Field(default_factory=Tolerance)
    auto_confirm: float = Field(default=AUTO_CONFIRM, gt=0, le=1)


def load_match_policy(root: str | Path) -> MatchPolicy:
    """The workspace's matching policy, from the optional `collections:` section of workspace.yaml:

        collections:
          payment_tolerance: "1.00"       # or "0.5%", or {amount: "1.00", percent: "0.5"}
          auto_confirm: "0.90"
    """
    section = _collections_section(Path(root))
    tolerance = Tolerance.parse(section.get("payment_tolerance", "0"))
    auto = section.get("auto_confirm")
    confidence = float(Decimal(str(auto))) if auto is not None else AUTO_CONFIRM
    return MatchPolicy(tolerance=tolerance, auto_confirm=confidence)


def _collections_section(root: Path) -> Mapping[str, Any]:
    path = root / "workspace.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(read_workspace_text(path)) or {}
    section = data.get("collections") if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}


# ----------------------------------------------------------------------------------------------------
# Reading payments


def from_workspace(workspace: Workspace, *, until: date | None = None) -> list[IncomingPayment]:
    """The workspace's payments.csv (those dated on or before `until`, when given)."""
    return [
        IncomingPayment(id=p.id, date=p.date, amount=p.amount, currency=p.currency, payer=p.payer,
                        reference=p.reference, source="workspace")
        for p in workspace.payments
        if until is None or p.date <= until
    ]


class BankMapping(BaseModel):
    """Which columns of a bank's CSV export hold what. Only credits (money in) become payments.

    Either `amount` (signed: money in is positive) or `credit` (and optionally `debit`) columns.
    `currency` is a fixed currency for the whole file; `currency_column` a column holding one per row.
    `reference` and `payer` may name the same column (many banks have one "Description").
    """

    model_config = ConfigDict(extra="forbid")

    date: str
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    currency_column: str | None = None
    payer: str | None = None
    reference: str | None = None
    id: str | None = None
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    delimiter: str = ","

    @classmethod
    def parse(cls, spec: str) -> BankMapping:
        """A preset name ("chase", "payments_csv"), a YAML file, or inline `key=value,key=value`."""
        if spec in _PRESETS:
            return cls.model_validate(_PRESETS[spec])
        path = Path(spec)
        if path.suffix.lower() in (".yaml", ".yml", ".json") and path.exists():
            return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        fields: dict[str, Any] = {}
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"mapping part {part!r} is not key=value (keys: {', '.join(_MAPPING_KEYS)})")
            fields[key.strip()] = value.strip()
        if "decimal_comma" in fields:
            fields["decimal_comma"] = str(fields["decimal_comma"]).lower() in ("1", "true", "yes")
        return cls.model_validate(fields)


_MAPPING_KEYS = ("date", "amount", "credit", "debit", "currency", "currency_column", "payer", "reference", "id",
                 "date_format", "decimal_comma", "delimiter")

_PRESETS: dict[str, dict[str, Any]] = {
    # Chase-style US checking export: Details,Posting Date,"Description",Amount,Type,Balance,Check or Slip #
    "chase": {"date": "Posting Date", "amount": "Amount", "payer": "Description", "reference": "Description",
              "currency": "USD", "date_format": "%m/%d/%Y"},
    # The workspace contract's payments.csv
    "payments_csv": {"id": "id", "date": "date", "amount": "amount", "currency_column": "currency",
                     "payer": "payer", "reference": "reference"},
}


def _amount(text: str, decimal_comma: bool) -> Decimal | None:
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        return None
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    cleaned = re.sub(r"[^\d,.\-+]", "", cleaned)  # currency symbols
    cleaned = cleaned.replace(".", "").replace(",", ".") if decimal_comma else cleaned.replace(",", "")
    value = Decimal(cleaned)
    return -value if negative else value


def read_bank_csv(
    source: str | Path, mapping: BankMapping, *, name: str | None = None
) -> tuple[list[IncomingPayment], list[Issue]]:
    """The credits of a bank CSV export as payments, and the problems of the rows that could not be read.

    A row without an id column gets a stable one from its content (and its rank among identical rows),
    so importing the same export twice, or two overlapping exports, records each payment once.
    """
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and Path(source).exists()):
        path = Path(source)
        text = path.read_text(encoding="utf-8-sig")
        name = name or path.name
    else:
        text = str(source)
    name = name or "bank.csv"
    reader = csv.DictReader(io.StringIO(text), delimiter=mapping.delimiter)
    header = [h for h in (reader.fieldnames or []) if h]
    wanted = [mapping.date, mapping.amount, mapping.credit, mapping.debit, mapping.currency_column,
              mapping.payer, mapping.reference, mapping.id]
    missing = [c for c in wanted if c and c not in header]
    if missing:
        return [], [Issue(file=name, line=1, field=", ".join(missing),
                          message=f"no such column; the file has: {', '.join(header)}")]
    if not mapping.amount and not mapping.credit:
        return [], [Issue(file=name, message="the mapping names neither an amount nor a credit column")]
    if not mapping.currency and not mapping.currency_column:
        return [], [Issue(file=name, message="the mapping gives no currency (currency=XXX or currency_column=...)")]
    payments: list[IncomingPayment] = []
    issues: list[Issue] = []
    seen: Counter[str] = Counter()
    for line, row in enumerate(reader, start=2):
        try:
            day = datetime.strptime((row.get(mapping.date) or "").strip(), mapping.date_format).date()
        except ValueError:
            issues.append(Issue(file=name, line=line, field=mapping.date,
                                message=f"not a date in the format {mapping.date_format}: {row.get(mapping.date)!r}"))
            continue
        try:
            if mapping.amount:
                amount = _amount(row.get(mapping.amount) or "", mapping.decimal_comma)
            else:
                amount = _amount(row.get(mapping.credit or "") or "", mapping.decimal_comma)
                if amount is None and mapping.debit:
                    debit = _amount(row.get(mapping.debit) or "", mapping.decimal_comma)
                    amount = -abs(debit) if debit is not None else None
        except InvalidOperation:
            issues.append(Issue(file=name, line=line, field=mapping.amount or mapping.credit or "",
                                message="not an amount"))
            continue
        if amount is None or amount <= ZERO:
            continue  # money out, or an empty row: not a payment received
        currency = (mapping.currency or (row.get(mapping.currency_column or "") or "")).strip().upper()
        payer = (row.get(mapping.payer) or "").strip() if mapping.payer else ""
        reference = (row.get(mapping.reference) or "").strip() if mapping.reference else ""
        if mapping.id and (row.get(mapping.id) or "").strip():
            payment_id = (row.get(mapping.id) or "").strip()
        else:
            content = "\x1f".join([day.isoformat(), format_money(amount), currency, payer, reference])
            seen[content] += 1
            digest = hashlib.sha256(f"{content}\x1f{seen[content]}".encode()).hexdigest()[:16]
            payment_id = f"bank-{digest}"
        try:
            payments.append(IncomingPayment(id=payment_id, date=day, amount=amount, currency=currency, payer=payer,
                                            reference=reference, source="bank"))
        except ValidationError as exc:
            issues.append(Issue(file=name, line=line, message=str(exc.errors()[0]["msg"])))
    return payments, issues


_OFX_FIELD = re.compile(r"<([A-Z0-9.]+)>([^<\r\n]*)")


def read_ofx(text: str, *, currency: str | None = None) -> list[IncomingPayment]:
    """The credits of an OFX 1.x (SGML) or 2.x (XML) statement as payments; FITID is each one's id."""
    default_currency = currency
    match = re.search(r"<CURDEF>\s*([A-Z]{3})", text)
    if default_currency is None and match:
        default_currency = match.group(1)
    payments = []
    for block in re.findall(r"<STMTTRN>(.*?)</STMTTRN>", text, flags=re.S):
        fields = {tag: value.strip() for tag, value in _OFX_FIELD.findall(block)}
        amount = Decimal(fields.get("TRNAMT", "0").replace(",", "."))
        if amount <= ZERO:
            continue
        posted = fields.get("DTPOSTED", "")[:8]
        day = date(int(posted[:4]), int(posted[4:6]), int(posted[6:8]))
        memo, name = fields.get("MEMO", ""), fields.get("NAME", "")
        payments.append(IncomingPayment(
            id=f"ofx-{fields.get('FITID') or hashlib.sha256(block.encode()).hexdigest()[:16]}",
            date=day, amount=amount, currency=fields.get("CURRENCY", default_currency or ""),
            payer=name, reference=" ".join(part for part in (memo, fields.get("REFNUM", "")) if part) or name,
            source="bank",
        ))
    return payments


class LedgerPaymentLike(Protocol):
    """A payment as a ledger connector reports it (`tools.connectors.common.LedgerPayment` has this shape)."""

    @property
    def ledger(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def date(self) -> date: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def invoice_numbers(self) -> Sequence[str]: ...
    @property
    def reference(self) -> str: ...


def from_ledger(payments: Iterable[LedgerPaymentLike]) -> list[IncomingPayment]:
    """A ledger's payments as incoming payments; the invoices the ledger applied each one to become its links."""
    return [
        IncomingPayment(id=f"{p.ledger}-{p.id}", date=p.date, amount=p.amount, currency=p.currency,
                        payer="", reference=p.reference, source="ledger", linked_invoices=tuple(p.invoice_numbers))
        for p in payments
    ]


# ----------------------------------------------------------------------------------------------------
# Invoice numbers in references

RefStrength = Literal["exact", "strong", "weak"]
_RANK: dict[str, int] = {"exact": 3, "strong": 2, "weak": 1}

_KEYWORDS = frozenset({
    "INV", "INVOICE", "INVOICES", "INVC", "INVO", "IVN", "NIV", "INOV", "INVNO", "INVNR", "INVOICENO",
    "INVOICENR", "BILL", "FACTURE", "FACTURA", "RECHNUNG", "FAKTURA",
})
_SEP = r"[\s\-/_.#:]"


class RefHit(BaseModel):
    """An invoice number found in a reference, and how sure the finding is."""

    model_config = ConfigDict(frozen=True)

    number: str
    strength: RefStrength
    found: str
    """The text that named it."""


def _number_regex(number_format: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{year\}|\{seq(?::[^}]*)?\})", number_format):
        if part == "{year}":
            pattern += r"(?P<year>\d{4})"
        elif part.startswith("{seq"):
            pattern += r"(?P<seq>\d+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


def _keys(numbers: Iterable[str], number_format: str) -> dict[str, tuple[int | None, int]]:
    regex = _number_regex(number_format)
    keys: dict[str, tuple[int | None, int]] = {}
    for number in numbers:
        m = regex.fullmatch(number)
        if m:
            keys[number] = (int(m["year"]) if "year" in regex.groupindex else None, int(m["seq"]))
    return keys


def _compact(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _fix_letter_o(text: str) -> str:
    """People type the letter O for a zero inside numbers ("INV-2026-O014")."""
    while True:
        fixed = re.sub(r"O(?=\d)|(?<=\d)O", "0", text)
        if fixed == text:
            return text
        text = fixed


def parse_references(text: str, numbers: Iterable[str], number_format: str) -> list[RefHit]:
    """The known invoice numbers that `text` names, strongest finding first.

    exact   the number itself, separators aside ("INV20260001", "INV/2026/0010", "inv-2026-0022")
    strong  year and sequence after an invoice word ("inv 2026 42", "IVN-2026-0008", "INV-2026-005"),
            or listed after one ("RE INV-2026-0007 / 0015")
    weak    year and sequence with no invoice word ("2026/0042"), or a bare sequence after an invoice
            word that only one known invoice has ("INVOICE 0006")
    Dates ("2026-10-05") are not read as numbers.
    """
    known = list(numbers)
    keys = _keys(known, number_format)
    by_key = {key: number for number, key in keys.items()}
    by_seq: dict[int, list[str]] = {}
    for number, (_, seq) in keys.items():
        by_seq.setdefault(seq, []).append(number)
    years = {year for year, _ in keys.values() if year is not None}
    upper = _fix_letter_o(unicodedata.normalize("NFKC", text).upper())
    hits: dict[str, RefHit] = {}

    def add(number: str, strength: RefStrength, found: str) -> None:
        if number not in hits or _RANK[strength] > _RANK[hits[number].strength]:
            hits[number] = RefHit(number=number, strength=strength, found=found.strip())

    compact = _compact(upper)
    for number in known:
        key = _compact(number)
        if len(key) >= 6 and re.search(r"[A-Z]", key) and re.search(rf"(?<!\d){re.escape(key)}(?!\d)", compact):
            add(number, "exact", number)

    def keyword_before(position: int) -> int | None:
        """Where the invoice word right before `position` starts, if there is one."""
        m = re.search(rf"([A-Z]+){_SEP}{{0,3}}(?:NO|NR|NUMBER)?\.?{_SEP}{{0,3}}$", upper[:position])
        if m and (m.group(1) in _KEYWORDS or m.group(1).endswith("INV")):
            return m.start()
        return None

    taken: list[tuple[int, int]] = []
    year_seq = re.compile(rf"(?<!\d)(\d{{4}}){_SEP}{{0,3}}(\d{{1,6}})(?!\d)(?![\-/.]\d)")
    for m in year_seq.finditer(upper):
        year, seq = int(m.group(1)), int(m.group(2))
        if year not in years:
            continue
        taken.append(m.span())
        word = keyword_before(m.start())
        strength: RefStrength = "strong" if word is not None else "weak"
        found = by_key.get((year, seq))
        if found:
            add(found, strength, upper[m.start() if word is None else word:m.end()])
        end = m.end()
        # "INV-2026-0007 / 0015": more sequence numbers of the same year, listed after the first.
        while more := re.match(r"\s*(?:/|&|,|\+|AND\b|UND\b|ET\b)\s*(?:INV\w*\s*)?(\d{1,6})(?!\d)(?![\-/.]\d)",
                               upper[end:]):
            listed = by_key.get((year, int(more.group(1))))
            if listed:
                add(listed, strength, more.group(0))
            taken.append((end, end + more.end()))
            end += more.end()
    for m in re.finditer(r"\d{1,6}(?!\d)", upper):
        word = keyword_before(m.start())
        if word is None or any(start <= m.start() < stop for start, stop in taken):
            continue
        candidates = by_seq.get(int(m.group(0)), [])
        if len(candidates) == 1:
            add(candidates[0], "weak", upper[word:m.end()])
    return sorted(hits.values(), key=lambda h: (-_RANK[h.strength], h.number))


# ----------------------------------------------------------------------------------------------------
# Payers

_LEGAL = frozenset({
    "LTD", "LIMITED", "INC", "INCORPORATED", "PLC", "GMBH", "BV", "NV", "LLC", "LLP", "SA", "SAS", "SARL", "AG",
    "CO", "CORP", "CORPORATION", "COMPANY", "THE", "AND", "OF", "KG", "SRL", "SPA", "PTY", "OY", "AB",
})
_TRANSLITERATE = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ä": "AE", "ö": "OE", "ü": "UE"})


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).upper()
    plain = re.sub(r"(?<=\b[A-Z])\.(?=[A-Z]\b)", "", plain)  # "B.V." -> "BV"
    return [w for w in re.split(r"[^A-Z0-9]+", plain) if w and w not in _LEGAL]


def payer_scores(payer: str, clients: Sequence[Client]) -> dict[str, float]:
    """How well the payer's name fits each client (1.0: every word of a name or alias is in it)."""
    said = set(_words(payer))
    scores: dict[str, float] = {}
    if not said:
        return scores
    for client in clients:
        best = 0.0
        for name in [client.name, *client.aliases, client.id]:
            words = _words(name)
            if not words or sum(len(w) for w in words) < 3:
                continue
            best = max(best, sum(1 for w in words if w in said) / len(words))
        if best > 0:
            scores[client.id] = round(best, 2)
    return scores


def _payer_client(payer: str, clients: Sequence[Client]) -> tuple[str | None, float]:
    scores = payer_scores(payer, clients)
    if not scores:
        return None, 0.0
    best = max(scores.values())
    leaders = [c for c, s in scores.items() if s == best]
    if best >= 0.6 and len(leaders) == 1:
        return leaders[0], best
    return None, best


# ----------------------------------------------------------------------------------------------------
# Matching

AllocationKind = Literal["payment", "write_off", "credit"]


class Allocation(BaseModel):
    """Part of a payment set against one invoice: paid, written off (a difference within tolerance;
    negative when a small overpayment is kept), or a credit beyond the balance, held for the client."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    amount: Decimal
    kind: AllocationKind = "payment"


class Candidate(BaseModel):
    """An invoice a queued payment might settle, for the person deciding."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    client: str
    currency: str
    balance: Decimal
    due_date: date
    why: str


class PaymentMatch(BaseModel):
    """What the matcher makes of one payment."""

    model_config = ConfigDict(frozen=True)

    payment: IncomingPayment
    invoice_numbers: list[str]
    """The invoices the payment is proposed to settle (empty: no proposal)."""
    allocations: list[Allocation]
    confidence: float
    reason: str
    candidates: list[Candidate] = Field(default_factory=list)
    auto: bool = False
    """Confirmed without a person: a proposal at or above the policy's auto-confirm confidence."""

    @property
    def status(self) -> Literal["matched", "queued"]:
        return "matched" if self.auto else "queued"


def allocate(
    amount: Decimal, invoices: Sequence[Receivable], balances: Mapping[str, Decimal], tolerance: Tolerance
) -> tuple[list[Allocation], str]:
    """Spread `amount` over `invoices`, earliest due first, and say what happened.

    Paid exactly: each balance is paid. Short or over by no more than the tolerance: paid, and the
    difference written off on the last invoice. Short by more: a part payment (balances stay open).
    Over by more: every balance paid and the excess a credit on the last invoice's client.
    """
    ordered = sorted(invoices, key=lambda r: (r.due_date, r.number))
    owed = sum((balances[r.number] for r in ordered), ZERO)
    diff = amount - owed
    last = ordered[-1].number
    allocations: list[Allocation] = []
    if diff == ZERO or abs(diff) <= tolerance.limit(owed):
        remaining = amount
        for r in ordered:
            share = min(balances[r.number], remaining) if r.number != last else remaining
            if share:
                allocations.append(Allocation(invoice_number=r.number, amount=share))
            remaining -= share
        if diff:
            allocations.append(Allocation(invoice_number=last, amount=-diff, kind="write_off"))
            what = "short" if diff < ZERO else "over"
            return allocations, (f"{what} by {format_money(abs(diff))}, within the tolerance "
                                 f"({tolerance.describe()}): the difference is written off")
        return allocations, "the amount equals the open balance"
    if diff < ZERO:
        remaining = amount
        for r in ordered:
            share = min(balances[r.number], remaining)
            if share > ZERO:
                allocations.append(Allocation(invoice_number=r.number, amount=share))
            remaining -= share
        return allocations, f"a part payment: {format_money(amount)} of {format_money(owed)}; " \
                            f"{format_money(-diff)} stays open"
    allocations = [Allocation(invoice_number=r.number, amount=balances[r.number]) for r in ordered
                   if balances[r.number] > ZERO]
    allocations.append(Allocation(invoice_number=last, amount=diff, kind="credit"))
    return allocations, f"overpaid by {format_money(diff)}: held as a credit for the client (or refund it)"


class _Context:
    def __init__(self, invoices: Sequence[Receivable], balances: dict[str, Decimal], clients: Sequence[Client],
                 number_format: str, policy: MatchPolicy) -> None:
        self.invoices = {r.number: r for r in invoices}
        self.balances = balances
        self.clients = clients
        self.number_format = number_format
        self.policy = policy

    def open_on(self, r: Receivable, day: date) -> bool:
        """Could this payment settle it: issued by then, not paid in full before, something owed."""
        return (r.issue_date <= day and (r.settled_on is None or r.settled_on >= day)
                and self.balances[r.number] > ZERO)

    def candidate(self, r: Receivable, why: str) -> Candidate:
        return Candidate(invoice_number=r.number, client=r.client, currency=r.currency,
                         balance=self.balances[r.number], due_date=r.due_date, why=why)


def match_payments(
    payments: Sequence[IncomingPayment],
    invoices: Sequence[Receivable],
    *,
    clients: Sequence[Client],
    number_format: str,
    book: Book | None = None,
    policy: MatchPolicy | None = None,
) -> list[PaymentMatch]:
    """Match each payment to the invoices it settles, in date order (see the module docstring).

    Args:
        payments: the payments to match (those already matched belong in `book`, not here).
        invoices: every issued invoice, open or paid (a reference to a paid one is reported, not lost).
        clients: the workspace's clients, for the payer's name.
        number_format: the firm's invoice_number_format, to read mangled numbers.
        book: settlements and charges recorded so far; balances start from it (default: the totals).
        policy: tolerance and auto-confirm confidence.
    """
    policy = policy or MatchPolicy()
    balances = {r.number: max(book.owed(r.number), ZERO) if book and book.get(r.number) else r.total
                for r in invoices}
    ctx = _Context(invoices, balances, clients, number_format, policy)
    results = []
    for payment in sorted(payments, key=lambda p: (p.date, p.id)):
        result = _match_one(payment, ctx)
        if result.auto:
            for allocation in result.allocations:
                if allocation.kind != "credit":
                    balances[allocation.invoice_number] -= allocation.amount
        results.append(result)
    order = {p.id: i for i, p in enumerate(payments)}
    return sorted(results, key=lambda m: order[m.payment.id])


def _result(ctx: _Context, payment: IncomingPayment, proposal: Sequence[Receivable], confidence: float, reason: str,
            candidates: Sequence[Candidate] = ()) -> PaymentMatch:
    confidence = round(max(0.0, min(confidence, 0.99)), 2)
    allocations: list[Allocation] = []
    if proposal:
        allocations, how = allocate(payment.amount, proposal, ctx.balances, ctx.policy.tolerance)
        reason = f"{reason}; {how}"
    shown = list(candidates) or [ctx.candidate(r, "proposed") for r in proposal]
    return PaymentMatch(
        payment=payment, invoice_numbers=sorted(r.number for r in proposal), allocations=allocations,
        confidence=confidence, reason=reason, candidates=shown,
        auto=bool(proposal) and confidence >= ctx.policy.auto_confirm,
    )


def _match_one(payment: IncomingPayment, ctx: _Context) -> PaymentMatch:
    if payment.amount <= ZERO:
        return _result(ctx, payment, [], 0.0, "not money received")
    if payment.linked_invoices:
        return _by_link(payment, ctx)
    payer, _ = _payer_client(payment.payer, ctx.clients)
    hits = parse_references(payment.reference, ctx.invoices, ctx.number_format)
    by_amount = _by_amount(payment, ctx, payer)
    if not hits:
        return by_amount
    by_reference = _by_reference(payment, ctx, hits, payer)
    strong = any(h.strength != "weak" for h in hits)
    if strong:
        return by_reference
    if by_reference.invoice_numbers and by_reference.invoice_numbers == by_amount.invoice_numbers:
        # A loose reading of the reference and the amount agree: each backs the other.
        both = max(by_reference.confidence, by_amount.confidence) + 0.03
        return _result(ctx, payment, [ctx.invoices[n] for n in by_amount.invoice_numbers], both,
                       f"{by_reference.reason.split('; ')[0]}, and the amount agrees")
    return by_reference if by_reference.confidence >= by_amount.confidence else by_amount


def _by_link(payment: IncomingPayment, ctx: _Context) -> PaymentMatch:
    known = [ctx.invoices[n] for n in payment.linked_invoices if n in ctx.invoices]
    unknown = [n for n in payment.linked_invoices if n not in ctx.invoices]
    if unknown or not known:
        return _result(ctx, payment, [], 0.3, f"the ledger links it to invoices we do not know: {', '.join(unknown)}",
                       [ctx.candidate(r, "linked by the ledger") for r in known])
    if any(r.currency != payment.currency for r in known):
        return _result(ctx, payment, [], 0.2, "the ledger links it to an invoice in another currency",
                       [ctx.candidate(r, "linked by the ledger, other currency") for r in known])
    return _result(ctx, payment, known, 0.99, f"linked to {', '.join(r.number for r in known)} in the ledger")


def _by_reference(payment: IncomingPayment, ctx: _Context, hits: Sequence[RefHit], payer: str | None) -> PaymentMatch:
    named = [ctx.invoices[h.number] for h in hits]
    strength = {h.number: h.strength for h in hits}
    said = ", ".join(f"{h.number} (\"{h.found}\")" for h in hits)
    same = [r for r in named if r.currency == payment.currency]
    if not same:
        return _result(ctx, payment, [], 0.2,
                       f"the reference names {said}, in {named[0].currency}, but the payment is in {payment.currency}: "
                       "a payment is never matched to another currency automatically",
                       [ctx.candidate(r, "named in the reference, other currency") for r in named])
    open_ = [r for r in same if ctx.open_on(r, payment.date)]
    if not open_:
        closed = ", ".join(r.number for r in same)
        alternatives = _amount_candidates(payment, ctx, payer)
        return _result(ctx, payment, [], 0.3,
                       f"the reference names {closed}, already paid (or not issued) on {payment.date}: "
                       "a duplicate payment or a wrong reference",
                       [ctx.candidate(r, "named in the reference, already paid") for r in same] + alternatives)
    best = max(_RANK[strength[r.number]] for r in open_)
    confidence = 0.9 if best >= _RANK["strong"] else 0.7
    notes = [f"the reference names {said}"]
    clients = {r.client for r in open_}
    if payer is not None and payer in clients:
        confidence += 0.02 if best >= _RANK["strong"] else 0.15
        notes.append(f"the payer is {payer}")
    elif payer is not None:
        confidence -= 0.3
        notes.append(f"but the payer looks like {payer}, not {', '.join(sorted(clients))}")
    if len(clients) > 1:
        confidence -= 0.2
        notes.append("the invoices named belong to different clients")
    if len(open_) < len(same):
        confidence -= 0.05
        notes.append(f"{', '.join(r.number for r in same if r not in open_)} is already paid")
    owed = sum((ctx.balances[r.number] for r in open_), ZERO)
    diff = payment.amount - owed
    limit = ctx.policy.tolerance.limit(owed)
    proposal = list(open_)
    if diff == ZERO:
        confidence += 0.07
    elif abs(diff) <= limit:
        confidence += 0.05
    elif diff < ZERO:
        confidence -= 0.0 if len(open_) == 1 else 0.1
    else:
        # Paid more than the invoices named: perhaps other open invoices of the same client, unnamed.
        client = next(iter(clients))
        others = [r for r in _open(ctx, payment) if r.client == client and r not in open_]
        extra = _subset_summing(others, diff, ctx)
        if extra:
            proposal += extra
            confidence -= 0.12
            notes.append(f"the excess equals the balance of {', '.join(r.number for r in extra)}")
        else:
            confidence -= 0.1
    return _result(ctx, payment, proposal, confidence, "; ".join(notes),
                   [ctx.candidate(r, "named in the reference") for r in proposal])


def _open(ctx: _Context, payment: IncomingPayment) -> list[Receivable]:
    return sorted((r for r in ctx.invoices.values() if r.currency == payment.currency and ctx.open_on(r, payment.date)),
                  key=lambda r: (r.due_date, r.number))


def _subset_summing(
    invoices: Sequence[Receivable], amount: Decimal, ctx: _Context, *, most: int = 4
) -> list[Receivable]:
    """The earliest-due group of up to `most` invoices whose balances add up to `amount` exactly."""
    pool = list(invoices)[:12]
    for size in range(1, min(most, len(pool)) + 1):
        for combo in itertools.combinations(pool, size):
            if sum((ctx.balances[r.number] for r in combo), ZERO) == amount:
                return list(combo)
    return []


def _amount_candidates(payment: IncomingPayment, ctx: _Context, payer: str | None) -> list[Candidate]:
    pool = _open(ctx, payment)
    exact = [ctx.candidate(r, "open for exactly this amount") for r in pool if ctx.balances[r.number] == payment.amount]
    mine = [ctx.candidate(r, f"open invoice of {payer}") for r in pool
            if r.client == payer and ctx.balances[r.number] != payment.amount] if payer else []
    return exact + mine


def _by_amount(payment: IncomingPayment, ctx: _Context, payer: str | None) -> PaymentMatch:
    pool = _open(ctx, payment)
    other_currency = [
        ctx.candidate(r, f"same amount, but in {r.currency}: never matched automatically")
        for r in ctx.invoices.values()
        if r.currency != payment.currency and r.total == payment.amount and r.issue_date <= payment.date
    ]
    limit = ctx.policy.tolerance

    def close(r: Receivable) -> bool:
        return abs(ctx.balances[r.number] - payment.amount) <= limit.limit(ctx.balances[r.number])

    if payer is None:
        exact = [r for r in pool if ctx.balances[r.number] == payment.amount]
        near = [r for r in pool if close(r)]
        if len(exact) == 1:
            return _result(ctx, payment, exact, 0.75,
                           f"no invoice number in the reference and the payer is not a known client; "
                           f"{exact[0].number} ({exact[0].client}) is the only open invoice for exactly this amount",
                           [ctx.candidate(exact[0], "open for exactly this amount"), *other_currency])
        candidates = [ctx.candidate(r, "open for this amount") for r in (exact or near)] + other_currency
        why = (f"{len(exact or near)} open invoices for this amount and no payer or reference to choose"
               if exact or near
               else "no invoice number in the reference, no known payer, no open invoice of this amount")
        return _result(ctx, payment, [], 0.0 if not candidates else 0.3, why, candidates)

    mine = [r for r in pool if r.client == payer]
    exact = [r for r in mine if ctx.balances[r.number] == payment.amount]
    if len(exact) == 1:
        return _result(ctx, payment, exact, 0.93,
                       f"no invoice number in the reference; the payer is {payer} and {exact[0].number} is its only "
                       "open invoice for exactly this amount")
    if len(exact) > 1:
        return _result(ctx, payment, exact[:1], 0.6,
                       f"{payer} has {len(exact)} open invoices for exactly this amount; the earliest due is proposed",
                       [ctx.candidate(r, "open for exactly this amount") for r in exact])
    near = [r for r in mine if close(r)]
    if len(near) == 1:
        return _result(ctx, payment, near, 0.85,
                       f"no invoice number in the reference; the payer is {payer} and {near[0].number} is its only "
                       "open invoice within the tolerance of this amount")
    together = _subset_summing(mine, payment.amount, ctx)
    if together:
        return _result(ctx, payment, together, 0.8,
                       f"no invoice number in the reference; {payer}'s open invoices "
                       f"{', '.join(r.number for r in together)} add up to this amount")
    candidates = [ctx.candidate(r, f"open invoice of {payer}") for r in mine] + other_currency
    if mine and payment.amount < ctx.balances[mine[0].number]:
        return _result(ctx, payment, mine[:1], 0.5,
                       f"no invoice number in the reference; less than any open invoice of {payer}: "
                       f"perhaps a part payment of the earliest due, {mine[0].number}", candidates)
    return _result(ctx, payment, [], 0.2 if mine else 0.1,
                   f"the payer is {payer}, but no open invoice or group of them fits this amount", candidates)
