"""What starts an invoice run without a person asking: signed webhooks, and the schedule.

Webhooks (each verified before anything is read from it; a delivery seen before is ignored):

    Asana    the first POST carries `X-Hook-Secret`: it is kept and echoed back (the handshake); every later
             delivery carries `X-Hook-Signature` = hex HMAC-SHA256(secret, raw body). Deliveries name tasks
             (compact resources), so each task is read back from the API.
    ClickUp  `X-Signature` = hex HMAC-SHA256(webhook secret, raw body); the body names one task.
    Jira     admin webhooks registered with a secret send `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret,
             raw body)>` (WebSub style); the body carries the whole issue. A retried delivery keeps its
             `X-Atlassian-Webhook-Identifier`.

Each task named is written to tasks.csv (sync.merge_tasks) and then decided: a task that is *done with a
milestone amount* starts a run for its client and the month of its completion; a task that *moved to the
invoice stage* (sources.yaml `invoice_stage`, default "Awaiting Invoice") starts one for its client and
the month it was completed in (or, when it is not completed, the current month).

Schedule (`Triggers.scheduled(today)`, for a daily job): a retainer client, from its billing day on
(sources.yaml `schedule`), gets a run for the previous month; a client whose previous month is fully
approved in the tracker (Harvest timesheet approval, `source_approved`) gets one too.

Whatever the trigger, a client and period get at most one triggered run: a ledger (SQLite in the data
folder, a primary key on client and period) is claimed before a run starts, and released only if the run
could not start. `InvoiceRuns.start` itself also refuses a period that already has a draft or an invoice.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from tools.errors import InvoiceAgentError
from tools.files import MAX_CSV_BYTES, Unreadable, read_text, write_atomic
from tools.periods import Period
from tools.sources.base import Fields, SourceTask, TaskSource, decode_json
from tools.sources.errors import (
    SourceConfigError,
    SourceNotFoundError,
    WebhookError,
    WebhookSignatureError,
    system_name,
)
from tools.sources.mapping import ProjectLink, SourcesMapping, SystemMapping, load_mapping
from tools.sources.settings import SourceSettings
from tools.sources.sync import merge_tasks, task_link
from tools.workspace import load_workspace

# ----------------------------------------------------------------------------------------------------
# What a trigger asks for, and who starts runs


@dataclass(frozen=True)
class RunRequest:
    client: str
    period: Period
    reason: str


class StartedRun(Protocol):
    """What starting a run answers (graph.runs.RunOutcome fits)."""

    @property
    def run_id(self) -> str | None: ...

    @property
    def status(self) -> str: ...

    @property
    def message(self) -> str: ...


class RunStarter(Protocol):
    """Starts one run (graph.runs.InvoiceRuns fits; so does an adapter over the API's RunService)."""

    def start(self, client_id: str, period: Period, request: str) -> StartedRun: ...


StarterFactory = Callable[[], AbstractContextManager[RunStarter]]
"""Opened after the trigger wrote the tasks, so the run reads the workspace as it now is."""


@dataclass
class TriggeredRun:
    client: str
    period: str
    reason: str
    status: str
    """The run's status ("awaiting_approval", "running", "exists", ...), or "already_triggered", "failed"."""
    run_id: str | None = None
    message: str = ""


@dataclass
class WebhookResult:
    status: Literal["handshake", "ignored", "duplicate", "processed"]
    runs: list[TriggeredRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    echo_secret: str | None = None
    """The handshake's X-Hook-Secret, to send back as a response header."""


def decide(task: SourceTask, link: ProjectLink, mapping: SystemMapping, today: date) -> RunRequest | None:
    """Whether this task's state starts a run, for which client and period."""
    name = system_name(task.system)
    if task.done and task.milestone_amount is not None and task.completed_at is not None:
        return RunRequest(link.client, _month(task.completed_at),
                          f"{name} milestone {task.key} ({task.title}) completed on {task.completed_at}")
    stage = (mapping.invoice_stage or "").strip().casefold()
    if stage and task.stage.strip().casefold() == stage:
        day = task.completed_at or today
        return RunRequest(link.client, _month(day), f"{name} task {task.key} ({task.title}) moved to {task.stage!r}")
    return None


def _month(day: date) -> Period:
    return Period.month(day.year, day.month)


def previous_month(today: date) -> Period:
    return _month(today.replace(day=1) - timedelta(days=1))


# ----------------------------------------------------------------------------------------------------
# Signatures


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None, *, prefix: str = "") -> bool:
    """Constant-time check of a hex HMAC-SHA256 of the raw body (`prefix`: Jira's "sha256=")."""
    if not signature or not secret:
        return False
    given = signature.strip()
    if prefix:
        if not given.lower().startswith(prefix):
            return False
        given = given[len(prefix):]
    return hmac.compare_digest(given.lower(), hmac_sha256_hex(secret, body))


# ----------------------------------------------------------------------------------------------------
# The ledger: deliveries seen, runs triggered


class TriggerLedger:
    """SQLite in `<data_dir>/sources/triggers.sqlite`: safe across threads and processes."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "sources" / "triggers.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, system TEXT NOT NULL, "
                       "received_at TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS runs (client TEXT NOT NULL, period TEXT NOT NULL, reason TEXT NOT "
                       "NULL, run_id TEXT, status TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (client, period))")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def seen(self, key: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM deliveries WHERE key = ?", (key,)).fetchone() is not None

    def remember(self, system: str, keys: list[str]) -> None:
        now = datetime.now(UTC).isoformat()
        with self._db() as db:
            db.executemany("INSERT OR IGNORE INTO deliveries (key, system, received_at) VALUES (?, ?, ?)",
                           [(k, system, now) for k in keys])

    def claim(self, client: str, period: str, reason: str) -> bool:
        with self._db() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO runs (client, period, reason, status, at) VALUES (?, ?, ?, ?, ?)",
                (client, period, reason, "starting", datetime.now(UTC).isoformat()))
            return cursor.rowcount == 1

    def settle(self, client: str, period: str, run_id: str | None, status: str) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET run_id = ?, status = ? WHERE client = ? AND period = ?",
                       (run_id, status, client, period))

    def release(self, client: str, period: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE client = ? AND period = ?", (client, period))

    def triggered(self, client: str, period: str) -> tuple[str, str | None, str] | None:
        """(reason, run id, status) of the run triggered for this client and period, if any."""
        with self._db() as db:
            row = db.execute("SELECT reason, run_id, status FROM runs WHERE client = ? AND period = ?",
                             (client, period)).fetchone()
        return (str(row[0]), row[1], str(row[2])) if row else None


class AsanaHooks:
    """The X-Hook-Secret of each established Asana webhook, by hook name (`?hook=` of its target URL)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "sources" / "asana-webhooks.json"

    def _all(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, hook: str) -> str | None:
        return self._all().get(hook)

    def establish(self, hook: str, secret: str) -> None:
        secrets = self._all()
        secrets[hook] = secret
        write_atomic(self.path, json.dumps(secrets, indent=1) + "\n")
        self.path.chmod(0o600)


# ----------------------------------------------------------------------------------------------------
# The triggers


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


SourceFactory = Callable[[str, SourcesMapping], TaskSource]


class Triggers:
    """Webhook deliveries and the schedule → runs, at most one per client and period.

    Args:
        workspace: the workspace folder (tasks.csv is written, sources.yaml read).
        data_dir: where the ledger and the Asana webhook secrets are kept.
        starter: opens something that starts runs (after the tasks are written).
        settings: the sources' credentials and webhook secrets (default: the environment).
        sources: builds the task source that reads a task back (default: `tools.sources.task_source`).
        today: today's date (the month of a stage move without a completion date; the schedule).
    """

    def __init__(self, workspace: Path, data_dir: Path, starter: StarterFactory, *,
                 settings: SourceSettings | None = None, sources: SourceFactory | None = None,
                 today: Callable[[], date] = date.today) -> None:
        self.workspace = Path(workspace)
        self.starter = starter
        self.settings = settings or SourceSettings()
        self.ledger = TriggerLedger(data_dir)
        self.asana_hooks = AsanaHooks(data_dir)
        self._sources = sources
        self.today = today

    # --- webhooks ------------------------------------------------------------------------------------

    def asana(self, headers: Mapping[str, str], body: bytes, hook: str = "default") -> WebhookResult:
        h = _lower(headers)
        pinned = self.settings.asana_webhook_secret.get_secret_value() if self.settings.asana_webhook_secret else None
        offered = h.get("x-hook-secret")
        if offered:
            return self._asana_handshake(hook, offered, pinned)
        secret = pinned or self.asana_hooks.get(hook)
        if not secret:
            raise WebhookSignatureError("asana", f"no Asana webhook is established for hook {hook!r}: it starts with "
                                        "Asana's X-Hook-Secret handshake")
        if not verify_signature(secret, body, h.get("x-hook-signature")):
            raise WebhookSignatureError("asana", "X-Hook-Signature is missing or does not match the body")
        payload = Fields("asana", decode_json("asana", body, "body"), "body")
        events = payload.items("events", required=True)
        if not events:
            return WebhookResult("ignored", notes=["heartbeat: no events"])
        keys = [f"asana:{hook}:{_digest(e.data)}" for e in events]
        fresh = [(k, e) for k, e in zip(keys, events, strict=True) if not self.ledger.seen(k)]
        if not fresh:
            return WebhookResult("duplicate", notes=[f"all {len(events)} event(s) were received before: ignored"])
        ids: list[str] = []
        deleted: list[str] = []
        for _, event in fresh:
            resource = event.child("resource", required=True)
            assert resource is not None
            if resource.text("resource_type") != "task":
                continue
            gid = resource.id("gid")
            if event.text("action") == "deleted":
                deleted.append(gid)
            elif gid not in ids:
                ids.append(gid)
        result = self._tasks("asana", ids=[i for i in ids if i not in deleted], deleted=deleted)
        self.ledger.remember("asana", [k for k, _ in fresh])
        return result

    def _asana_handshake(self, hook: str, offered: str, pinned: str | None) -> WebhookResult:
        if pinned is not None:
            if not hmac.compare_digest(offered, pinned):
                raise WebhookSignatureError("asana", "the handshake's X-Hook-Secret is not "
                                            "INVOICE_AGENT_ASANA_WEBHOOK_SECRET")
        else:
            mapped = load_mapping(self.workspace).asana.projects
            if hook != "default" and hook not in mapped:
                raise WebhookError("asana", f"hook {hook!r} is neither 'default' nor a mapped Asana project: "
                                   "handshake refused")
            if self.asana_hooks.get(hook) is not None:
                raise WebhookError("asana", f"an Asana webhook is already established for hook {hook!r}; to replace "
                                   f"it, remove it from {self.asana_hooks.path} first: handshake refused")
            self.asana_hooks.establish(hook, offered)
        return WebhookResult("handshake", echo_secret=offered, notes=[f"Asana webhook established (hook {hook!r})"])

    def clickup(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        secret = self._secret("clickup", self.settings.clickup_webhook_secret, "INVOICE_AGENT_CLICKUP_WEBHOOK_SECRET")
        if not verify_signature(secret, body, _lower(headers).get("x-signature")):
            raise WebhookSignatureError("clickup", "X-Signature is missing or does not match the body")
        payload = Fields("clickup", decode_json("clickup", body, "body"), "body")
        event = payload.text("event", required=True)
        task_id = payload.id("task_id", required=False)
        items = payload.items("history_items")
        key = ("clickup:" + ":".join((payload.id("webhook_id", required=False), event, task_id,
                                      ",".join(i.id("id", required=False) for i in items)))
               if items else f"clickup:{hashlib.sha256(body).hexdigest()}")
        if self.ledger.seen(key):
            return WebhookResult("duplicate", notes=["this delivery was received before: ignored"])
        if not task_id or not event.startswith("task"):
            result = WebhookResult("ignored", notes=[f"event {event!r} names no task"])
        elif event == "taskDeleted":
            result = self._tasks("clickup", deleted=[task_id])
        else:
            result = self._tasks("clickup", ids=[task_id])
        self.ledger.remember("clickup", [key])
        return result

    def jira(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        from tools.sources.jira import milestone_field_is_id, parse_issue

        h = _lower(headers)
        secret = self._secret("jira", self.settings.jira_webhook_secret, "INVOICE_AGENT_JIRA_WEBHOOK_SECRET")
        if not verify_signature(secret, body, h.get("x-hub-signature"), prefix="sha256="):
            raise WebhookSignatureError("jira", "X-Hub-Signature (sha256=...) is missing or does not match the body")
        key = "jira:" + (h.get("x-atlassian-webhook-identifier") or hashlib.sha256(body).hexdigest())
        if self.ledger.seen(key):
            return WebhookResult("duplicate", notes=["this delivery was received before: ignored"])
        payload = Fields("jira", decode_json("jira", body, "body"), "body")
        event = payload.text("webhookEvent")
        issue = payload.child("issue")
        if issue is None:
            result = WebhookResult("ignored", notes=[f"event {event!r} carries no issue"])
        elif event == "jira:issue_deleted":
            result = self._tasks("jira", deleted=[issue.id("id", required=False) or issue.id("key")])
        else:
            field_name = load_mapping(self.workspace).jira.milestone_field
            if field_name and not milestone_field_is_id(field_name) and self.settings.jira_api_token:
                result = self._tasks("jira", ids=[issue.id("key")])  # a field name: read it back to resolve it
            else:
                result = self._tasks("jira", tasks=[parse_issue(issue, field_name)])
        self.ledger.remember("jira", [key])
        return result

    def _secret(self, system: str, value: Any, variable: str) -> str:
        secret = value.get_secret_value() if value is not None else ""
        if not secret:
            raise SourceConfigError(system, f"{system_name(system)} webhooks are not configured: set {variable} "
                                    "to the webhook's secret")
        return str(secret)

    def _tasks(self, system: str, *, ids: list[str] | None = None, tasks: list[SourceTask] | None = None,
               deleted: list[str] | None = None) -> WebhookResult:
        mapping = load_mapping(self.workspace)
        found = list(tasks or [])
        gone = list(deleted or [])
        if ids:
            source = self._source(system, mapping)
            try:
                for task_id in ids:
                    try:
                        found.append(source.get_task(task_id))
                    except SourceNotFoundError:
                        gone.append(task_id)
            finally:
                source.close()
        report = merge_tasks(self.workspace, system, found, mapping, deleted=gone)
        notes = report.lines()
        sysmap = mapping.system(system)
        requests: list[RunRequest] = []
        for task in found:
            link = task_link(task, sysmap)
            if link is None or task.key not in report.rows:
                continue
            request = decide(task, link, sysmap, self.today())
            if request is not None:
                requests.append(request)
        if not requests:
            notes.append("no task is a completed milestone or in the invoice stage: no run")
        return WebhookResult("processed", runs=self.start(requests), notes=notes)

    def _source(self, system: str, mapping: SourcesMapping) -> TaskSource:
        if self._sources is not None:
            return self._sources(system, mapping)
        from tools.sources import task_source

        return task_source(system, self.settings, mapping)

    # --- the schedule --------------------------------------------------------------------------------

    def due(self, today: date | None = None) -> list[RunRequest]:
        """Runs the schedule asks for today: retainer billing days, and fully approved timesheets."""
        today = today or self.today()
        workspace = load_workspace(self.workspace)
        schedule = load_mapping(self.workspace).schedule
        period = previous_month(today)
        requests = []
        for client in workspace.clients:
            if client.billing.model != "retainer":
                continue
            day = schedule.clients.get(client.id, schedule.billing_day)
            if today.day >= day:
                requests.append(RunRequest(client.id, period, f"retainer billing day ({day}) of {client.name}"))
        requests += approved_timesheets(self.workspace, period)
        return requests

    def scheduled(self, today: date | None = None) -> list[TriggeredRun]:
        return self.start(self.due(today))

    # --- starting, once per client and period --------------------------------------------------------

    def start(self, requests: list[RunRequest]) -> list[TriggeredRun]:
        results: list[TriggeredRun] = []
        todo: list[RunRequest] = []
        for request in requests:
            period = str(request.period)
            if any(r.client == request.client and str(r.period) == period for r in todo):
                continue
            if self.ledger.claim(request.client, period, request.reason):
                todo.append(request)
                continue
            earlier = self.ledger.triggered(request.client, period)
            reason, run_id, status = earlier or ("", None, "")
            results.append(TriggeredRun(request.client, period, request.reason, "already_triggered", run_id,
                                        f"a run for {request.client} {period} was already triggered ({reason}; "
                                        f"run {run_id or '?'}, {status}): nothing new was started"))
        if not todo:
            return results
        settled: set[tuple[str, str]] = set()
        try:
            with self.starter() as starter:
                for request in todo:
                    period = str(request.period)
                    text = f"invoice {request.client} for {period} (triggered: {request.reason})"
                    try:
                        outcome = starter.start(request.client, request.period, text)
                    except InvoiceAgentError as exc:
                        self.ledger.release(request.client, period)
                        settled.add((request.client, period))
                        results.append(TriggeredRun(request.client, period, request.reason, "failed", None, str(exc)))
                        continue
                    if outcome.status == "failed":
                        self.ledger.release(request.client, period)
                    else:
                        self.ledger.settle(request.client, period, outcome.run_id, outcome.status)
                    settled.add((request.client, period))
                    results.append(TriggeredRun(request.client, period, request.reason, outcome.status,
                                                outcome.run_id, outcome.message))
        finally:
            for request in todo:
                if (request.client, str(request.period)) not in settled:
                    self.ledger.release(request.client, str(request.period))
        return results


def approved_timesheets(workspace: Path, period: Period) -> list[RunRequest]:
    """Clients whose every tracked, billable entry of `period` is approved in its tracker (source_approved)."""
    path = Path(workspace) / "time_entries.csv"
    if not path.is_file():
        return []
    text = read_text(path, limit=MAX_CSV_BYTES)
    if isinstance(text, Unreadable):
        return []  # nothing to start: the workspace's own load reports the file, by line
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if "source_approved" not in (reader.fieldnames or []):
        return []
    state: dict[str, bool] = {}
    systems: dict[str, str] = {}
    first, last = period.start.isoformat(), period.end.isoformat()
    for row in reader:
        flag = (row.get("source_approved") or "").strip()
        if not flag or row.get("source_status") == "deleted" or not first <= (row.get("date") or "") <= last:
            continue
        if (row.get("billable") or "").strip().lower() != "true":
            continue
        client = (row.get("client") or "").strip()
        state[client] = state.get(client, True) and flag == "true"
        systems.setdefault(client, row.get("source") or "")
    return [RunRequest(client, period, f"timesheets of {period} approved in {system_name(systems[client])}")
            for client, approved in sorted(state.items()) if approved]
