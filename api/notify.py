"""Telling approvers that a draft waits: a Slack incoming-webhook message and an email, each with the link.

Each channel is off until it is configured (`Settings.slack_webhook_url`, `Settings.smtp_host` and
`smtp_to`). Sending never raises: a failure comes back as a `Delivery` with `ok=False`, which the caller
logs and records in the run's audit log. The draft itself is already in the store and waits in the
inbox (GET /approvals) whatever happens to a message.

Slack is retried on 429 and 5xx answers and on connection errors (honouring Retry-After up to a cap);
a 4xx other than 429 means the webhook is wrong and is not retried. Email is tried once.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from typing import Protocol

import httpx
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agent.review import Review
from api.settings import Settings
from tools.drafts import Draft
from tools.money import format_money

__all__ = ["Channel", "Delivery", "Notifier", "SlackWebhook", "SmtpEmail", "WaitingDraft"]

log = logging.getLogger(__name__)


class WaitingDraft(BaseModel):
    """What a notice says about a draft waiting for approval."""

    run_id: str
    client_name: str
    period_start: date
    period_end: date
    currency: str
    total: Decimal
    anomalies: int
    held: int
    review_url: str
    review: str = ""
    """The draft's review in a few words: whose it is, its suggestions, what changed (see `Review.gist`)."""

    @classmethod
    def of(cls, run_id: str, draft: Draft, review_url: str, review: Review | None = None) -> WaitingDraft:
        return cls(run_id=run_id, client_name=draft.client_name, period_start=draft.period_start,
                   period_end=draft.period_end, currency=draft.currency, total=draft.total,
                   anomalies=len(draft.anomalies), held=len(draft.held), review_url=review_url,
                   review=review.gist() if review is not None else "")

    @property
    def period(self) -> str:
        return f"{self.period_start}..{self.period_end}"

    def summary(self) -> str:
        """One line: client, period, total, anomalies."""
        anomalies = f"{self.anomalies} anomal{'y' if self.anomalies == 1 else 'ies'}"
        if self.held:
            anomalies += f" ({self.held} held)"
        return f"{self.client_name}, {self.period}: {format_money(self.total)} {self.currency}, {anomalies}"


class Delivery(BaseModel):
    """How one channel's notice went."""

    channel: str
    ok: bool
    attempts: int
    detail: str = ""


class Channel(Protocol):
    name: str

    def send(self, notice: WaitingDraft) -> Delivery: ...


class _Refused(Exception):
    """The webhook answered a 4xx: sending again will not help."""


class _TryAgain(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class SlackWebhook:
    """POST the notice to a Slack incoming webhook.

    Args:
        url: the webhook URL.
        timeout: seconds for each try.
        attempts: tries in all, on 429, 5xx or a connection error.
        backoff: seconds before the second try, doubling after each (0 in tests).
        max_wait: the longest wait between tries, whatever Retry-After says.
        client: an httpx client (tests may pass one with a mock transport).
    """

    name = "slack"

    def __init__(self, url: str, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 1.0,
                 max_wait: float = 30.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self._client = client

    def send(self, notice: WaitingDraft) -> Delivery:
        payload: dict[str, object] = {
            "text": f"Draft waiting for approval: {notice.summary()} <{notice.review_url}|Review it>",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*Draft waiting for approval*\n{notice.summary()}\n"
                + (f"{notice.review}\n" if notice.review else "")
                + f"<{notice.review_url}|Review and decide>")}}],
        }
        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=self._wait,
                            retry=retry_if_exception_type(_TryAgain), reraise=True)
        tries = 0
        try:
            for attempt in retrying:
                with attempt:
                    tries += 1
                    self._post(payload)
        except _TryAgain as exc:
            return Delivery(channel="slack", ok=False, attempts=tries, detail=f"gave up after {tries} tries: {exc}")
        except _Refused as exc:
            return Delivery(channel="slack", ok=False, attempts=tries, detail=str(exc))
        return Delivery(channel="slack", ok=True, attempts=tries)

    def _post(self, payload: dict[str, object]) -> None:
        client = self._client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(self.url, json=payload, timeout=self.timeout)
        except httpx.TransportError as exc:
            raise _TryAgain(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self._client is None:
                client.close()
        if response.status_code == 429 or response.status_code >= 500:
            raise _TryAgain(f"Slack answered {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            raise _Refused(f"Slack refused the message ({response.status_code} {response.text[:200]!r}); "
                           "check INVOICE_AGENT_SLACK_WEBHOOK_URL")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _TryAgain) and error.retry_after is not None:
            return min(error.retry_after, self.max_wait)
        return float(min(self.backoff * 2 ** (state.attempt_number - 1), self.max_wait))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


class SmtpEmail:
    """Email the notice through an SMTP server (one try: a failure is recorded, the draft still waits)."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: Sequence[str], *, timeout: float = 10.0,
                 username: str | None = None, password: str | None = None, starttls: bool = False) -> None:
        self.host, self.port, self.sender, self.recipients = host, port, sender, list(recipients)
        self.timeout, self.username, self.password, self.starttls = timeout, username, password, starttls

    def message(self, notice: WaitingDraft) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(self.recipients)
        email["Subject"] = f"Draft waiting for approval: {notice.summary()}"
        email.set_content(
            f"A draft invoice is waiting for your decision.\n\n  {notice.summary()}\n\n"
            + (f"Review: {notice.review}\n\n" if notice.review else "")
            +
            f"Review it, then approve, ask for changes or reject:\n  {notice.review_url}\n\n"
            f"Run {notice.run_id}\n"
        )
        return email

    def send(self, notice: WaitingDraft) -> Delivery:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(self.message(notice))
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery(channel="email", ok=False, attempts=1,
                            detail=f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}")
        if refused:
            return Delivery(channel="email", ok=False, attempts=1, detail=f"recipients refused: {sorted(refused)}")
        return Delivery(channel="email", ok=True, attempts=1, detail=f"to {', '.join(self.recipients)}")


class Notifier:
    """Every configured channel; `draft_waiting` sends on each and reports how each went."""

    def __init__(self, channels: Sequence[Channel] = ()) -> None:
        self.channels = list(channels)

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        channels: list[Channel] = []
        if settings.slack_webhook_url:
            webhook = settings.slack_webhook_url.get_secret_value()
            channels.append(SlackWebhook(webhook, timeout=settings.notify_timeout))
        if settings.smtp_host and settings.smtp_to:
            channels.append(SmtpEmail(
                settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to,
                timeout=settings.notify_timeout, username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                starttls=settings.smtp_starttls,
            ))
        return cls(channels)

    def draft_waiting(self, notice: WaitingDraft) -> list[Delivery]:
        deliveries = []
        for channel in self.channels:
            try:
                delivery = channel.send(notice)
            except Exception as exc:  # a channel's bug must not stop the others
                log.exception("notification channel %r failed", channel)
                delivery = Delivery(channel=channel.name, ok=False, attempts=1, detail=f"{type(exc).__name__}: {exc}")
            if not delivery.ok:
                log.warning("run %s: %s notification failed: %s", notice.run_id, delivery.channel, delivery.detail)
            deliveries.append(delivery)
        return deliveries
