"""Domain types: the workspace's records, as validated pydantic models.

Field names follow the workspace contract (WORKSPACE.md v1) so that a row, a YAML mapping and a model
read the same. Money and hours are `Decimal`; `row` on CSV records is the 1-based line in its file.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tools.money import ZERO
from tools.numbering import check_number_format

# ----------------------------------------------------------------------------------------------------
# Problems found in data are values.


class Issue(BaseModel):
    """One problem in one place of a workspace file."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    field: str = ""
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.message}"


AnomalyKind = Literal[
    "missing_description",
    "vague_description",
    "duplicate",
    "overlap",
    "excessive_day",
    "wrong_project",
    "unknown_task",
    "task_closed",
    "unlogged_task",
    "weekend",
    "future_date",
    "invalid_hours",
    "uncertain_category",
]

ANOMALY_KINDS: tuple[str, ...] = AnomalyKind.__args__  # type: ignore[attr-defined]

HELD_KINDS = frozenset({"duplicate", "wrong_project", "future_date", "invalid_hours"})


class Anomaly(BaseModel):
    """Something a reviewer must see about an entry (or, for `unlogged_task`, a task)."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    kind: AnomalyKind
    message: str

    @property
    def held(self) -> bool:
        """Held entries stay out of the draft until a person decides."""
        return self.kind in HELD_KINDS


# ----------------------------------------------------------------------------------------------------
# Numbers as people write them: plain decimals within bounds no real invoice comes near.

MAX_AMOUNT = Decimal(10) ** 9
"""The largest amount (money, or an invoice line's quantity) a workspace may hold, either way."""
MAX_HOURS = Decimal(10_000)
"""The largest hours of one entry, either way (over 24 h loads, and is held as `invalid_hours`)."""
MAX_PLACES = 6
"""Decimal places a number may have (six: exact seconds of an hour, `tools.sources.base`)."""
MAX_DAYS = 3650
"""The longest payment term or reminder offset, in days (ten years)."""

_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def plausible_number(value: Any, limit: Decimal, unit: str = "") -> Any:
    """Check a number as written: a plain decimal, at most `MAX_PLACES` places, at most `limit` either way.

    Text that Python would read as a number but a person would not write in a workspace (`1e30`, `NaN`,
    `Infinity`, `1_000`) is refused, as are absurd magnitudes, which would load and then fail far away
    (formatting a draft). Anything else that is no number is passed on for pydantic to report as such.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN.fullmatch(text):
            try:
                Decimal(text)
            except ArithmeticError:
                return value  # not a number at all: pydantic says so
            raise PydanticCustomError(
                "plain_decimal", "write a plain decimal such as 1250.00 (no exponent, NaN, Infinity or _)"
            )
        places = len(text.partition(".")[2])
        number = Decimal(text)
    elif isinstance(value, int | float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise PydanticCustomError("plain_decimal", "must be a finite number, not NaN or Infinity")
        exponent = number.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    else:
        return value
    if places > MAX_PLACES:
        raise PydanticCustomError(
            "too_many_places", "has {places} decimal places; at most {most} are allowed",
            {"places": places, "most": MAX_PLACES},
        )
    if abs(number) > limit:
        raise PydanticCustomError(
            "implausible_number", "beyond any plausible value: must be between -{limit} and {limit}{unit}",
            {"limit": str(limit), "unit": unit},
        )
    return value


def _bounded(limit: Decimal, unit: str = "") -> BeforeValidator:
    return BeforeValidator(lambda value: plausible_number(value, limit, unit))


Amount = Annotated[Decimal, _bounded(MAX_AMOUNT)]
"""Money (or a quantity) that may be negative: invoice lines, discounts, payments."""
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]


# ----------------------------------------------------------------------------------------------------
# workspace.yaml


class Category(BaseModel):
    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)


class ReminderPolicy(BaseModel):
    before_due_days: list[Days] = Field(default_factory=lambda: [3])
    on_due: bool = True
    after_due_days: list[Days] = Field(default_factory=lambda: [7])
    escalate_after_days: Days = 30


class FirmSettings(BaseModel):
    firm: str = Field(min_length=1)
    base_currency: str = Field(pattern=r"^[A-Z]{3}$")
    invoice_number_format: str = "INV-{year}-{seq:04d}"
    categories: list[Category] = Field(min_length=1)
    reminders: ReminderPolicy = Field(default_factory=ReminderPolicy)

    @field_validator("invoice_number_format")
    @classmethod
    def _format_works(cls, value: str) -> str:
        try:
            return check_number_format(value)  # one {seq}, at most one {year}, numbers that read back
        except ValueError as exc:
            raise PydanticCustomError("number_format", str(exc)) from None

    @model_validator(mode="after")
    def _unique_categories(self) -> FirmSettings:
        ids = [c.id for c in self.categories]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"category ids must be unique; repeated: {', '.join(dupes)}")
        return self


# ----------------------------------------------------------------------------------------------------
# clients.yaml

Money = Annotated[Decimal, Field(ge=ZERO), _bounded(MAX_AMOUNT)]


class Retainer(BaseModel):
    amount: Money
    included_hours: Annotated[Decimal, Field(ge=ZERO), _bounded(MAX_HOURS, " hours")]
    overage_rate: Money


class BillingTerms(BaseModel):
    model: Literal["hourly", "retainer", "fixed"]
    retainer: Retainer | None = None

    @model_validator(mode="after")
    def _retainer_terms(self) -> BillingTerms:
        if self.model == "retainer" and self.retainer is None:
            raise ValueError("a retainer client needs retainer: {amount, included_hours, overage_rate}")
        return self


class Rates(BaseModel):
    default: Money | None = None
    by_role: dict[str, Money] = Field(default_factory=dict)
    by_category: dict[str, Money] = Field(default_factory=dict)
    by_person: dict[str, Money] = Field(default_factory=dict)


class Rounding(BaseModel):
    increment_minutes: int = Field(default=1, gt=0, le=1440)
    mode: Literal["up", "nearest", "none"] = "none"


class EntrySelector(BaseModel):
    """Which entries an `exclude` rule removes; every given field must match."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    person: str | None = None
    project_code: str | None = None
    task: str | None = None
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _regex(value) if value is not None else None

    @model_validator(mode="after")
    def _not_empty(self) -> EntrySelector:
        if not any((self.category, self.person, self.project_code, self.task, self.pattern)):
            raise ValueError("exclude needs at least one of category, person, project_code, task, pattern")
        return self

    def describe(self) -> str:
        parts = [f"{name} {value}" for name, value in self.model_dump().items() if value is not None]
        return ", ".join(parts)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


class RollupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: str
    into: str = Field(min_length=1)

    _check = field_validator("pattern")(lambda cls, v: _regex(v))


class CodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str
    code: str = Field(min_length=1)


class DiscountSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percent: Annotated[Decimal, Field(ge=ZERO, le=Decimal(100)), _bounded(Decimal(100))]


class CapSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money


class ExcludeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exclude: EntrySelector


class RollupRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rollup: RollupSpec


class CodeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: CodeSpec


class DiscountRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    discount: DiscountSpec


class CapRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cap: CapSpec


RULE_KINDS = ("exclude", "rollup", "code", "discount", "cap")


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in RULE_KINDS else None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


Rule = Annotated[
    Annotated[ExcludeRule, Tag("exclude")]
    | Annotated[RollupRule, Tag("rollup")]
    | Annotated[CodeRule, Tag("code")]
    | Annotated[DiscountRule, Tag("discount")]
    | Annotated[CapRule, Tag("cap")],
    Discriminator(
        _rule_kind,
        custom_error_type="invalid_rule",
        custom_error_message="each rule is one of exclude, rollup, code, discount, cap",
    ),
]

GroupBy = Literal["category", "task", "person", "detailed"]


class Client(BaseModel):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tax_rate: Annotated[Decimal, Field(ge=ZERO, le=Decimal(1)), _bounded(Decimal(1))] = ZERO
    payment_terms_days: Days = 30
    contact_email: str = ""
    billing: BillingTerms
    rates: Rates = Field(default_factory=Rates)
    rounding: Rounding = Field(default_factory=Rounding)
    group_by: GroupBy = "category"
    rules: list[Rule] = Field(default_factory=list)


class ClientsFile(BaseModel):
    clients: list[Client]


# ----------------------------------------------------------------------------------------------------
# CSV records


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)
    person: str = Field(min_length=1)
    role: str = ""
    email: str = ""
    row: int = 0


class TimeEntry(BaseModel):
    """One row of time_entries.csv, exactly as the person logged it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    date: date
    person: str = Field(min_length=1)
    client: str = Field(min_length=1)
    project_code: str = ""
    task: str = ""
    notes: str = ""
    hours: Decimal
    start: time | None = None
    end: time | None = None
    billable: bool
    task_ref: str | None = None
    row: int = 0

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        # People type "9:05" as often as "09:05".
        if isinstance(value, str) and value[1:2] == ":":
            return "0" + value
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        # Some exports write durations as H:MM (exact thirds of an hour and all); decimal hours are checked
        # as written. Either way absurd magnitudes are refused here, not left to break a draft.
        if isinstance(value, str) and ":" in value and re.fullmatch(r"-?\d+:[0-5]\d", value):
            sign = -1 if value.startswith("-") else 1
            hours, minutes = value.lstrip("-").split(":")
            value = sign * (Decimal(hours) + Decimal(minutes) / 60)
            plausible_number(round(value), MAX_HOURS, " hours")
            return value
        return plausible_number(value, MAX_HOURS, " hours")


class Task(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    client: str = Field(min_length=1)
    project_code: str = ""
    title: str = ""
    status: Literal["open", "done"]
    completed_at: date | None = None
    milestone_amount: Money | None = None
    assignee: str = ""
    row: int = 0


InvoiceStatus = Literal["draft", "sent", "paid", "void"]


class InvoiceRow(BaseModel):
    """One line of invoices.csv (the invoice-level columns repeat on every line)."""

    invoice_number: str = Field(min_length=1)
    client: str = Field(min_length=1)
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    line_no: int
    description: str = ""
    category: str = ""
    quantity: Amount = ZERO
    unit_price: Amount = ZERO
    amount: Amount
    subtotal: Amount
    tax: Amount
    total: Amount
    status: InvoiceStatus
    paid_date: date | None = None
    code: str | None = None
    row: int = 0


class HistoricalLine(BaseModel):
    line_no: int
    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    code: str | None = None


class HistoricalInvoice(BaseModel):
    """A past invoice, as the firm really issued it."""

    invoice_number: str
    client: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    currency: str
    lines: list[HistoricalLine]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    status: InvoiceStatus
    paid_date: date | None = None

    @property
    def discount(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.category == "discount"), ZERO)

    @property
    def cap_adjustment(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.category == "cap_adjustment"), ZERO)


class EntryLabel(BaseModel):
    entry_id: str = Field(min_length=1)
    category: str = ""
    billed: bool = False
    invoice_number: str | None = None
    anomaly: str | None = None
    row: int = 0
    source: Literal["", "reviewer", "approved"] = ""
    """"" for entry_labels.csv; learned in the store: "reviewer" (a person set it), "approved" (invoiced)."""


class Payment(BaseModel):
    id: str = Field(min_length=1)
    date: date
    amount: Amount
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payer: str = ""
    reference: str = ""
    row: int = 0


class PaymentLabel(BaseModel):
    payment_id: str = Field(min_length=1)
    invoice_numbers: list[str] = Field(default_factory=list)
    row: int = 0

    @field_validator("invoice_numbers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value if value is not None else []


# ----------------------------------------------------------------------------------------------------
# The whole workspace


class Workspace(BaseModel):
    """One firm's billing world, loaded and validated (see `tools.workspace.load_workspace`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    root: str
    settings: FirmSettings
    clients: list[Client]
    people: list[Person]
    entries: list[TimeEntry]
    tasks: list[Task]
    invoices: list[HistoricalInvoice] = Field(default_factory=list)
    labels: list[EntryLabel] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    payment_labels: list[PaymentLabel] = Field(default_factory=list)

    def client(self, client_id: str) -> Client:
        for client in self.clients:
            if client.id == client_id:
                return client
        from tools.errors import UnknownClientError

        raise UnknownClientError(client_id, [c.id for c in self.clients])

    def category_label(self, category_id: str) -> str:
        for category in self.settings.categories:
            if category.id == category_id:
                return category.label
        return category_id


class Categorization(BaseModel):
    """One entry's activity category, how sure the categorizer is, and why."""

    model_config = ConfigDict(frozen=True)

    category: str
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    uncertain: bool = False
