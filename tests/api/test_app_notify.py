"""When a draft waits, Slack (incoming webhook) and email (SMTP) say so with the summary and the review link.

Against real local servers: an HTTP server thread stands in for Slack, aiosmtpd for the mail server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr

from api.notify import Notifier, SlackWebhook, SmtpEmail, WaitingDraft
from api.settings import Settings
from tests.api.conftest import PUBLIC_URL, Api

NOTICE = WaitingDraft(run_id="r1", client_name="Acme Industries Ltd", period_start=date(2026, 3, 1),
                      period_end=date(2026, 3, 31), currency="GBP", total=Decimal("780.00"), anomalies=7, held=4,
                      review_url=f"{PUBLIC_URL}/review/r1")
SUMMARY = "Acme Industries Ltd, 2026-03-01..2026-03-31: 780.00 GBP, 7 anomalies (4 held)"


class FakeSlack:
    """An HTTP server that answers each POST with the next scripted status (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.received.append({"path": self.path, "json": json.loads(body)})
                code = fake.statuses[min(len(fake.received), len(fake.statuses)) - 1]
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"no")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[Callable[[list[int]], FakeSlack]]:
    servers: list[FakeSlack] = []

    def start(statuses: list[int]) -> FakeSlack:
        servers.append(FakeSlack(statuses))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_slack_gets_the_summary_and_the_link_after_retrying_server_errors_and_429(
    slack: Callable[[list[int]], FakeSlack],
) -> None:
    server = slack([500, 429, 200])

    delivery = SlackWebhook(server.url, backoff=0).send(NOTICE)

    assert delivery.ok and delivery.attempts == 3
    assert len(server.received) == 3 and server.received[-1]["path"] == "/services/T0/B0/secret"
    text = server.received[-1]["json"]["text"]
    assert SUMMARY in text and f"{PUBLIC_URL}/review/r1" in text


def test_slack_gives_up_after_its_tries_and_does_not_retry_a_refused_webhook(
    slack: Callable[[list[int]], FakeSlack],
) -> None:
    down, wrong = slack([503]), slack([404])

    gave_up = SlackWebhook(down.url, backoff=0, attempts=3).send(NOTICE)
    refused = SlackWebhook(wrong.url, backoff=0, attempts=3).send(NOTICE)

    assert not gave_up.ok and gave_up.attempts == 3 and "Slack answered 503" in gave_up.detail
    assert not refused.ok and refused.attempts == 1 and "refused the message (404" in refused.detail
    assert len(down.received) == 3 and len(wrong.received) == 1


def test_the_email_carries_the_summary_and_the_link(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp

    delivery = SmtpEmail("127.0.0.1", port, "invoices@firm.test", ["ann@firm.test", "bo@firm.test"]).send(NOTICE)

    assert delivery.ok
    [email] = mailbox.messages
    assert mailbox.recipients == [["ann@firm.test", "bo@firm.test"]]
    assert email["Subject"] == f"Draft waiting for approval: {SUMMARY}"
    assert email["From"] == "invoices@firm.test"
    body = email.get_content()
    assert SUMMARY in body and f"{PUBLIC_URL}/review/r1" in body


def test_the_channels_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_AGENT_SLACK_WEBHOOK_URL", "https://hooks.slack.test/services/T0/B0/x")
    monkeypatch.setenv("INVOICE_AGENT_SMTP_HOST", "mail.firm.test")
    monkeypatch.setenv("INVOICE_AGENT_SMTP_TO", "ann@firm.test, bo@firm.test")

    channels = Notifier.from_settings(Settings()).channels

    assert [c.name for c in channels] == ["slack", "email"]
    assert isinstance(channels[1], SmtpEmail) and channels[1].recipients == ["ann@firm.test", "bo@firm.test"]
    assert Notifier.from_settings(Settings(slack_webhook_url=None, smtp_host=None)).channels == []


def test_a_waiting_draft_is_announced_on_slack_and_by_email_and_the_audit_log_says_so(
    make_api: Callable[..., Api], settings: Settings, slack: Callable[[list[int]], FakeSlack],
    smtp: tuple[Mailbox, int],
) -> None:
    server, (mailbox, port) = slack([200]), smtp
    configured = settings.model_copy(update={"slack_webhook_url": SecretStr(server.url), "smtp_host": "127.0.0.1",
                                             "smtp_port": port, "smtp_to": ["ann@firm.test", "bo@firm.test"]})
    api = make_api(settings=configured)

    run_id = api.waiting_run()

    wait_for(lambda: server.received and mailbox.messages)
    link = f"{PUBLIC_URL}/review/{run_id}"
    assert link in server.received[0]["json"]["text"] and SUMMARY in server.received[0]["json"]["text"]
    assert link in mailbox.messages[0].get_content() and mailbox.recipients == [["ann@firm.test", "bo@firm.test"]]
    wait_for(lambda: len([d for d in api.run(run_id)["decisions"] if d["action"] == "notified"]) == 2)
    notified = [d for d in api.run(run_id)["decisions"] if d["action"] == "notified"]
    assert sorted(d["detail"]["channel"] for d in notified) == ["email", "slack"]
    assert all(d["actor"] == "notifier" and d["detail"]["draft_version"] == 1 for d in notified)


def test_notifications_that_fail_are_recorded_and_the_draft_still_waits(make_api: Callable[..., Api]) -> None:
    closed = free_port()  # nothing listens here
    notifier = Notifier([SlackWebhook(f"http://127.0.0.1:{closed}/hook", backoff=0, timeout=2),
                         SmtpEmail("127.0.0.1", closed, "invoices@firm.test", ["ann@firm.test"], timeout=2)])
    api = make_api(notifier=notifier)

    run_id = api.waiting_run()

    wait_for(lambda: len([d for d in api.run(run_id)["decisions"] if d["action"] == "notification_failed"]) == 2)
    failed = {d["detail"]["channel"]: d["detail"] for d in api.run(run_id)["decisions"]
              if d["action"] == "notification_failed"}
    assert failed["slack"]["attempts"] == 3 and "ConnectError" in failed["slack"]["detail"]
    assert failed["email"]["attempts"] == 1 and "ConnectionRefusedError" in failed["email"]["detail"]
    [waiting] = api.client.get("/approvals", headers=api.viewer).json()["data"]
    assert waiting["run_id"] == run_id and api.run(run_id)["status"] == "awaiting_approval"


def test_the_changed_draft_is_announced_again(make_api: Callable[..., Api], slack: Callable[[list[int]], FakeSlack],
                                              settings: Settings) -> None:
    server = slack([200])
    api = make_api(notifier=Notifier([SlackWebhook(server.url, backoff=0)]))
    run_id = api.waiting_run()
    wait_for(lambda: len(server.received) == 1)

    api.client.post(f"/approvals/{run_id}/request-changes", json={"drop": ["e7"]}, headers=api.approver)

    wait_for(lambda: len(server.received) == 2)
    assert "780.00 GBP" not in server.received[1]["json"]["text"]
