"""Payment reminders: which are due on a day (a pure plan), what each says, and how it is delivered.

The stages come from workspace.yaml's `reminders` policy, as offsets from the due date:
`before-3` (3 days before), `due` (on the due date), `after-7`, `after-14` (days after), and the
`escalation` to the approver once an invoice is more than `escalate_after_days` late.

`plan_reminders` decides, for one day, from the invoices, their balances and the stages already
recorded (sent, skipped, ...):
- an invoice that is paid (or not yet sent) gets nothing, and its pending reminders are cancelled;
- of the stages that have fallen due, only the latest is sent; earlier ones never recorded are
  skipped ("catch up": after days of downtime the client gets one reminder, at the stage now due);
- a before-due reminder that falls due only once the due date has passed is skipped: it would be untrue;
- an invoice more than `escalate_after_days` past due is escalated, once.

Delivery is the mailers' job: `OutboxMailer` writes .eml files (the default; idempotent by key, so a
retried send never writes twice) and `SmtpMailer` sends through a server (it cannot tell whether an
interrupted send went out, so the caller never retries one blindly).
"""

from __future__ import annotations

import os
import re
import smtplib
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from tools.domain import ReminderPolicy
from tools.errors import InvoiceAgentError
from tools.money import ZERO, format_money
from tools.receivables import Book

__all__ = [
    "ESCALATION",
    "EscalationNotice",
    "MailError",
    "Mailer",
    "OutboxMailer",
    "PlannedReminder",
    "ReminderNotice",
    "SmtpMailer",
    "Stage",
    "compose_escalation",
    "compose_reminder",
    "plan_reminders",
    "reminder_stages",
    "stage_name",
    "stage_offset",
]

ESCALATION = "escalation"
"""The stage name of an escalation to the approver."""

ReminderKind = Literal["reminder", "escalation"]
PlanAction = Literal["send", "skip", "escalate", "cancel"]


class MailError(InvoiceAgentError):
    """A reminder or notice could not be delivered (the SMTP server refused or was unreachable)."""


class Stage(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    offset: int
    """Days from the due date: negative before it, 0 on it, positive after."""


def stage_name(offset: int) -> str:
    if offset < 0:
        return f"before-{-offset}"
    return "due" if offset == 0 else f"after-{offset}"


def stage_offset(name: str) -> int:
    """The offset of a stage name ("before-3" -> -3, "due" -> 0, "after-7" -> 7; a bare number is days after)."""
    text = name.strip().lower()
    if text in ("due", "on_due", "on-due"):
        return 0
    m = re.fullmatch(r"(before|after)[-_ ]?(\d+)", text)
    if m:
        return -int(m.group(2)) if m.group(1) == "before" else int(m.group(2))
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise ValueError(f"not a reminder stage: {name!r} (write before-3, due, after-7, ...)")


def reminder_stages(policy: ReminderPolicy) -> list[Stage]:
    """The policy's client reminders, earliest first (the escalation is not one of them)."""
    offsets = {-d for d in policy.before_due_days if d > 0}
    offsets |= {0} if policy.on_due else set()
    offsets |= {d for d in policy.after_due_days if d > 0}
    return [Stage(name=stage_name(o), offset=o) for o in sorted(offsets)]


class PlannedReminder(BaseModel):
    """One decision of the day's plan about one invoice and stage."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    stage: str
    kind: ReminderKind
    action: PlanAction
    falls_on: date
    reason: str = ""


def plan_reminders(
    book: Book, policy: ReminderPolicy, today: date, recorded: Mapping[tuple[str, str], str]
) -> list[PlannedReminder]:
    """What to do today about each invoice's reminders (see the module docstring).

    Args:
        book: every issued invoice with its settlements, so balances are known.
        policy: the workspace's reminder policy.
        today: the tick's day.
        recorded: (invoice number, stage) -> status of every reminder already recorded.
    """
    stages = reminder_stages(policy)
    plan: list[PlannedReminder] = []
    for r in sorted(book.receivables.values(), key=lambda r: (r.due_date, r.number)):
        if r.sent_on is None or r.sent_on > today:
            continue
        mine = {stage: status for (number, stage), status in recorded.items() if number == r.number}
        if not book.is_open(r.number, today):
            for stage, status in sorted(mine.items()):
                if status == "pending":
                    plan.append(PlannedReminder(
                        invoice_number=r.number, stage=stage, kind="escalation" if stage == ESCALATION else "reminder",
                        action="cancel", falls_on=today, reason=f"paid by {today}",
                    ))
            continue
        fallen = [s for s in stages if r.sent_on <= r.due_date + timedelta(days=s.offset) <= today]
        if fallen:
            latest = fallen[-1]
            for s in fallen[:-1]:
                if s.name not in mine or mine[s.name] == "pending":
                    plan.append(PlannedReminder(
                        invoice_number=r.number, stage=s.name, kind="reminder", action="skip",
                        falls_on=r.due_date + timedelta(days=s.offset),
                        reason=f"superseded by {latest.name} on {today}",
                    ))
            if latest.name not in mine:
                falls_on = r.due_date + timedelta(days=latest.offset)
                if latest.offset < 0 and today >= r.due_date:
                    plan.append(PlannedReminder(
                        invoice_number=r.number, stage=latest.name, kind="reminder", action="skip", falls_on=falls_on,
                        reason=f"a before-due reminder is no longer true on {today} (due {r.due_date})",
                    ))
                else:
                    plan.append(PlannedReminder(
                        invoice_number=r.number, stage=latest.name, kind="reminder", action="send", falls_on=falls_on,
                        reason="due today" if falls_on == today else f"fell due on {falls_on}; caught up on {today}",
                    ))
        late = (today - r.due_date).days
        if late > policy.escalate_after_days and ESCALATION not in mine:
            plan.append(PlannedReminder(
                invoice_number=r.number, stage=ESCALATION, kind="escalation", action="escalate",
                falls_on=r.due_date + timedelta(days=policy.escalate_after_days + 1),
                reason=f"{late} days past due (more than {policy.escalate_after_days})",
            ))
    return plan


# ----------------------------------------------------------------------------------------------------
# What a reminder says


class ReminderNotice(BaseModel):
    """Everything a reminder email says, as data."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    stage: str
    firm: str
    client_name: str
    client_email: str
    currency: str
    total: Decimal
    balance: Decimal
    due_date: date
    today: date
    late_fee: Decimal | None = None
    late_fee_total: Decimal = ZERO
    """All late fees on the invoice so far (the one added now included)."""

    @property
    def days_late(self) -> int:
        return (self.today - self.due_date).days


def compose_reminder(notice: ReminderNotice, *, sender: str, pdf: bytes | None = None) -> EmailMessage:
    """The reminder email to the client, the invoice PDF attached when there is one."""
    n = notice
    money = f"{n.currency} {format_money(n.balance)}"
    if n.days_late < 0:
        subject = f"Reminder: invoice {n.invoice_number} is due on {n.due_date}"
        opening = (f"This is a friendly reminder that invoice {n.invoice_number} is due on {n.due_date}, "
                   f"in {-n.days_late} day{'s' if n.days_late != -1 else ''}.")
    elif n.days_late == 0:
        subject = f"Invoice {n.invoice_number} is due today"
        opening = f"Invoice {n.invoice_number} is due for payment today, {n.due_date}."
    else:
        subject = f"Overdue: invoice {n.invoice_number} ({n.days_late} days past due)"
        opening = (f"Our records show that invoice {n.invoice_number}, due on {n.due_date}, is now "
                   f"{n.days_late} day{'s' if n.days_late != 1 else ''} past due.")
    body = [f"Dear {n.client_name},", "", opening, ""]
    body.append(f"Invoice total: {n.currency} {format_money(n.total)}")
    if n.late_fee:
        body.append(f"Late fee added today, as set out in our terms: {n.currency} {format_money(n.late_fee)}")
    elif n.late_fee_total:
        body.append(f"Late fees: {n.currency} {format_money(n.late_fee_total)}")
    paid = n.total + n.late_fee_total - n.balance
    if paid > ZERO:
        body.append(f"Received so far: {n.currency} {format_money(paid)}")
    body += [f"Balance due: {money}", "",
             f"Please quote {n.invoice_number} with your payment. If you have already paid, thank you, and "
             "please ignore this message.", "", f"Kind regards,\n{n.firm}", ""]
    message = EmailMessage()
    message["From"] = formataddr((n.firm, sender))
    message["To"] = formataddr((n.client_name, n.client_email))
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"{n.invoice_number}.{n.stage}", domain=sender.rpartition("@")[2]
                                       or None)
    message["X-Invoice-Reminder"] = f"{n.invoice_number}; {n.stage}"
    message.set_content("\n".join(body))
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{n.invoice_number}.pdf")
    return message


class EscalationNotice(BaseModel):
    """What the approver is told about an invoice long past due."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    firm: str
    client_name: str
    client_email: str
    currency: str
    total: Decimal
    balance: Decimal
    due_date: date
    today: date
    reminders_sent: list[str]
    link: str = ""


def compose_escalation(notice: EscalationNotice, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    n = notice
    late = (n.today - n.due_date).days
    message = EmailMessage()
    message["From"] = formataddr((n.firm, sender))
    message["To"] = ", ".join(recipients) or "approver"
    message["Subject"] = f"Escalation: {n.client_name} invoice {n.invoice_number} is {late} days past due"
    message["Date"] = formatdate(localtime=False)
    message["X-Invoice-Escalation"] = n.invoice_number
    sent = ", ".join(n.reminders_sent) or "none"
    message.set_content(
        f"Invoice {n.invoice_number} to {n.client_name} ({n.client_email or 'no contact email'}) was due on "
        f"{n.due_date} and is {late} days past due.\n\n"
        f"Total {n.currency} {format_money(n.total)}; balance due {n.currency} {format_money(n.balance)}.\n"
        f"Reminders sent: {sent}.\n\n"
        "Automatic reminders go on; a personal call usually works better now.\n"
        + (f"\n{n.link}\n" if n.link else "")
    )
    return message


# ----------------------------------------------------------------------------------------------------
# Delivery


class Mailer(Protocol):
    """Delivers one message under a key (invoice number and stage), at most once per key if it can."""

    name: str
    idempotent: bool
    """True when delivering a key again is harmless (it checks first): an interrupted send may be retried."""

    def deliver(self, key: str, message: EmailMessage) -> str:
        """Deliver and say where it went; raise MailError if it was not delivered."""
        ...

    def delivered(self, key: str) -> bool | None:
        """Whether the key was delivered: True, False, or None when the channel cannot tell."""
        ...


class OutboxMailer:
    """Writes each message to `folder/KEY.eml` (written whole, via a rename), once per key."""

    name = "outbox"
    idempotent = True

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', key)}.eml"

    def deliver(self, key: str, message: EmailMessage) -> str:
        path = self.path(key)
        if path.exists():
            return str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(bytes(message))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return str(path)

    def delivered(self, key: str) -> bool | None:
        return self.path(key).exists()


class SmtpMailer:
    """Sends through an SMTP server. It cannot tell afterwards whether an interrupted send went out."""

    name = "smtp"
    idempotent = False

    def __init__(self, host: str, port: int = 25, *, timeout: float = 10.0, username: str | None = None,
                 password: str | None = None, starttls: bool = False) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls

    def deliver(self, key: str, message: EmailMessage) -> str:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {self.host}:{self.port} did not take {key}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise MailError(f"SMTP {self.host}:{self.port} refused {sorted(refused)} for {key}")
        return f"smtp://{self.host}:{self.port} to {message['To']}"

    def delivered(self, key: str) -> bool | None:
        return None
