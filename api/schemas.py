"""What the HTTP API takes and gives, named by role: `XCreate` in, `XPublic` out, `XsPublic{data, count}` lists.

Money and hours are decimal strings ("780.00"), never floats; dates are ISO. These models are the API's
contract (they make the OpenAPI document): the store's records and the engine's drafts are mapped onto
them here, so either can change without changing what clients see.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from agent.review import Review
from tools.drafts import Draft, EntryDecision
from tools.store import ApprovalRecord, DecisionRecord, DraftRecord, InvoiceRecord, RunRecord
from tools.store.tokens import ApiTokenRecord

ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""Run and invoice ids are hex strings; anything outside this pattern cannot name one."""
RunId = ResourceId
AsOf = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31),
                             description="the run's date (default: today); entries after it are held")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FieldErrorPublic(BaseModel):
    """One part of a request that is not as the API expects."""

    loc: list[str | int] = Field(description='where: ["body", "reason"], ["path", "run_id"], ...')
    msg: str
    type: str


class ErrorPublic(BaseModel):
    """Every error has this body."""

    error: str = Field(description="a short code: unauthorized, forbidden, not_found, conflict, unprocessable, ...")
    detail: str = Field(description="what went wrong and what to do about it")
    errors: list[FieldErrorPublic] | None = Field(default=None, description="with a malformed request: each problem")


# --- runs ---------------------------------------------------------------------------------------------


class RunFromText(_In):
    """A request in words: it may name several clients (one run each), or come back as a question."""

    text: str = Field(min_length=1, max_length=500, examples=["invoice Parallax for March"])
    as_of: AsOf | None = None


class RunForClient(_In):
    """One client (id, name or alias) and one period."""

    client: str = Field(min_length=1, max_length=200, examples=["acme"])
    period: str = Field(min_length=1, max_length=40, description="YYYY-MM, or YYYY-MM-DD..YYYY-MM-DD",
                        examples=["2026-03", "2026-03-01..2026-03-15"])
    as_of: AsOf | None = None


def _run_form(body: object) -> str:
    return "client" if isinstance(body, dict) and "text" not in body else "text"


RunCreate = Annotated[Annotated[RunFromText, Tag("text")] | Annotated[RunForClient, Tag("client")],
                      Discriminator(_run_form)]
"""Either form; a body without "text" is read as a client and period (so errors name the form meant)."""


class RunStartedPublic(BaseModel):
    run_id: str | None = Field(description="the run, once a worker has recorded it (else poll GET /jobs/{job_id})")
    client: str | None
    period: str | None
    status: str = Field(description="running (drafting in the background: poll GET /runs/{run_id}); queued "
                                    "(every worker is busy: poll GET /jobs/{job_id} for its run); exists (a draft "
                                    "or invoice already covers this client and period, or a run is drafting it: "
                                    "that run's id); awaiting_approval, failed, ... (the run already got there)")
    message: str
    job_id: str | None = Field(default=None, description="the queued job that drafts this run")


class JobPublic(BaseModel):
    """A run asked for, in the queue workers draft from."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    client: str
    period: str
    request: str
    as_of: date
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued (waiting for a worker), running (a worker holds it), done (its run drafted, or "
                    "already existed), failed (`error` says why)")
    attempts: int = Field(description="claims by workers so far (more than one: a worker stopped and another "
                                      "took over)")
    run_id: str | None = Field(description="the run it started or found (GET /runs/{run_id})")
    outcome: str | None = Field(description="where its run was when the job ended: awaiting_approval, exists, ...")
    message: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class RunsStartedPublic(BaseModel):
    """What POST /runs did: the runs started (or found under way), or the question to answer first."""

    data: list[RunStartedPublic]
    count: int
    question: str | None = Field(default=None, description="set when nothing was started: ask the request again "
                                                            "with the answer")
    assumptions: list[str] = Field(default_factory=list)


class ApprovalStatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: Literal["pending", "resuming", "approved", "changes_requested", "rejected"]
    draft_version: int
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class DecisionPublic(BaseModel):
    """One line of a run's audit log: who did what, when, and what changed."""

    model_config = ConfigDict(from_attributes=True)

    action: str
    actor: str
    at: datetime
    detail: dict[str, object]

    @classmethod
    def of(cls, record: DecisionRecord) -> DecisionPublic:
        return cls.model_validate(record)


class UsagePublic(BaseModel):
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


class RunPublic(BaseModel):
    id: str
    request: str
    status: str = Field(description="running, awaiting_approval, approved, pushed, sent, answered, rejected, failed")
    client: str | None
    period_start: date | None
    period_end: date | None
    message: str | None = Field(description="what the run's last step said (runs of this server process), else the "
                                            "one-line summary of its latest draft")
    error: str | None
    created_at: datetime
    updated_at: datetime
    usage: UsagePublic
    draft_version: int | None = Field(description="the latest draft's version; GET /drafts/{run_id} shows it")
    approval: ApprovalStatePublic | None
    invoice_id: str | None
    decisions: list[DecisionPublic]

    @classmethod
    def of(cls, run: RunRecord, *, message: str | None, draft: DraftRecord | None, approval: ApprovalRecord | None,
           invoice: InvoiceRecord | None, decisions: list[DecisionRecord]) -> RunPublic:
        return cls(
            id=run.id, request=run.request, status=run.status, client=run.client, period_start=run.period_start,
            period_end=run.period_end, message=message, error=run.error, created_at=run.created_at,
            updated_at=run.updated_at,
            usage=UsagePublic(input_tokens=run.input_tokens, output_tokens=run.output_tokens, cost_usd=run.cost_usd),
            draft_version=draft.version if draft else None,
            approval=ApprovalStatePublic.model_validate(approval) if approval else None,
            invoice_id=invoice.id if invoice else None,
            decisions=[DecisionPublic.of(d) for d in decisions],
        )


# --- drafts -------------------------------------------------------------------------------------------


class EntryPublic(BaseModel):
    """A time entry as the draft treated it: billed, excluded (with why) or held (with the anomaly)."""

    entry_id: str
    date: date
    person: str
    notes: str
    hours: Decimal
    billed_hours: Decimal | None
    rate: Decimal | None
    category: str | None
    confidence: float | None
    category_reason: str
    outcome: Literal["billed", "excluded", "held"]
    anomalies: list[str] = Field(description="the anomalies found on this entry, explained")
    excluded_because: str | None

    @classmethod
    def of(cls, entry: EntryDecision, draft: Draft) -> EntryPublic:
        return cls(**entry.model_dump(), anomalies=[a.message for a in draft.anomalies if a.entry_id == entry.entry_id],
                   excluded_because=next((x.reason for x in draft.excluded if x.entry_id == entry.entry_id), None))


class DraftLinePublic(BaseModel):
    description: str
    category: str
    code: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    entries: list[EntryPublic] = Field(description="the time entries behind this line")


class AnomalyPublic(BaseModel):
    entry_id: str
    kind: str
    held: bool = Field(description="held entries are off the invoice until someone decides")
    message: str


class ExclusionPublic(BaseModel):
    entry_id: str
    reason: str


class TotalsPublic(BaseModel):
    subtotal: Decimal
    discount: Decimal
    cap_adjustment: Decimal
    tax: Decimal
    total: Decimal


class DraftPublic(BaseModel):
    run_id: str
    version: int
    created_at: datetime
    client: str
    client_name: str
    period_start: date
    period_end: date
    currency: str
    billing_model: str
    issue_date: date
    due_date: date
    lines: list[DraftLinePublic]
    anomalies: list[AnomalyPublic]
    excluded: list[ExclusionPublic]
    entries: list[EntryPublic] = Field(description="every candidate entry, billed or not")
    totals: TotalsPublic
    summary: str = Field(description="one line: client, period, total, anomalies")
    approval: ApprovalStatePublic | None = Field(description="the decision on the run's current draft")
    review_url: str
    review: Review | None = Field(default=None, description=(
        "the draft's one review: category suggestions, advice on each kind of anomaly, what changed since the "
        "last invoices, a cover email; `source` says whose (a model's suggestions change nothing until a person "
        "accepts them)"))

    @classmethod
    def of(cls, record: DraftRecord, *, approval: ApprovalRecord | None, summary: str, review_url: str) -> DraftPublic:
        draft = record.draft
        entries = {e.entry_id: EntryPublic.of(e, draft) for e in draft.entries}
        return cls(
            run_id=record.run_id, version=record.version, created_at=record.created_at, client=draft.client,
            client_name=draft.client_name, period_start=draft.period_start, period_end=draft.period_end,
            currency=draft.currency, billing_model=draft.billing_model, issue_date=draft.issue_date,
            due_date=draft.due_date,
            lines=[DraftLinePublic(description=ln.description, category=ln.category, code=ln.code,
                                   quantity=ln.quantity, unit_price=ln.unit_price, amount=ln.amount,
                                   entries=[entries[i] for i in ln.entry_ids if i in entries])
                   for ln in draft.lines],
            anomalies=[AnomalyPublic.model_validate(a.model_dump()) for a in draft.anomalies],
            excluded=[ExclusionPublic.model_validate(x.model_dump()) for x in draft.excluded],
            entries=list(entries.values()),
            totals=TotalsPublic(subtotal=draft.subtotal, discount=draft.discount,
                                cap_adjustment=draft.cap_adjustment, tax=draft.tax, total=draft.total),
            summary=summary,
            approval=ApprovalStatePublic.model_validate(approval) if approval else None,
            review_url=review_url,
            review=Review.model_validate(record.review) if record.review else None,
        )


# --- approvals ----------------------------------------------------------------------------------------


class ApprovalPublic(BaseModel):
    """A draft waiting in the inbox."""

    run_id: str
    draft_version: int
    requested_at: datetime
    client: str
    client_name: str
    period_start: date
    period_end: date
    currency: str
    total: Decimal
    anomalies: int
    held: int
    summary: str
    review_url: str


class ApprovalsPublic(BaseModel):
    data: list[ApprovalPublic] = Field(description="oldest request first")
    count: int


EntryId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ChangesCreate(_In):
    """The reviewer's edits, as `invoice-agent revise` takes them; the engine recomputes the draft."""

    drop: list[EntryId] = Field(default_factory=list, max_length=1000, description="entry ids to take off")
    categories: dict[EntryId, Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=dict, description="entry id -> category id")
    descriptions: dict[Annotated[str, StringConstraints(min_length=1, max_length=500)],
                       Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=dict, description="a line's description as shown -> the description to show instead")
    reason: str = Field(default="", max_length=2000)


class RejectCreate(_In):
    reason: str = Field(min_length=1, max_length=2000)


# --- invoices -----------------------------------------------------------------------------------------


class InvoiceLinePublic(BaseModel):
    description: str
    category: str
    code: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    entry_ids: list[str]


class InvoicePublic(BaseModel):
    id: str
    number: str
    run_id: str
    client: str
    period_start: date
    period_end: date
    currency: str
    lines: list[InvoiceLinePublic]
    totals: TotalsPublic
    issue_date: date
    due_date: date
    status: Literal["approved", "pushed", "sent", "paid", "void"]
    ledger: str | None
    ledger_ref: str | None
    pushed_at: datetime | None
    sent_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    created_at: datetime
    pdf_url: str

    @classmethod
    def of(cls, invoice: InvoiceRecord) -> InvoicePublic:
        return cls(
            **invoice.model_dump(include={
                "id", "number", "run_id", "client", "period_start", "period_end", "currency", "issue_date",
                "due_date", "status", "ledger", "ledger_ref", "pushed_at", "sent_at", "voided_at", "void_reason",
                "created_at"}),
            lines=[InvoiceLinePublic.model_validate(line) for line in invoice.lines],
            totals=TotalsPublic(subtotal=invoice.subtotal, discount=invoice.discount,
                                cap_adjustment=invoice.cap_adjustment, tax=invoice.tax, total=invoice.total),
            pdf_url=f"/invoices/{invoice.id}/pdf",
        )


class InvoicesPublic(BaseModel):
    data: list[InvoicePublic] = Field(description="in issue order")
    count: int


# --- tokens -------------------------------------------------------------------------------------------


class WhoAmIPublic(BaseModel):
    """The token a request came with: its label is the name decisions are recorded under."""

    token_id: str
    label: str
    role: Literal["approver", "viewer"]

    @classmethod
    def of(cls, token: ApiTokenRecord) -> WhoAmIPublic:
        return cls(token_id=token.id, label=token.label, role=token.role)


class HealthPublic(BaseModel):
    status: Literal["ok"]
    workspace: str
    model: str
