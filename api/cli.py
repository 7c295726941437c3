"""The `invoice-agent` command line: draft, run, approvals, approve, reject, revise, resume, demo."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from api.settings import DEMO_WORKSPACE, Settings
from api.wiring import open_runs
from graph.nodes import Decision
from graph.runs import InvoiceRuns, RunOutcome
from tools.clients import find_client
from tools.drafts import draft_invoice
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.render import render_draft
from tools.toolbox import Revisions
from tools.workspace import load_workspace


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invoice-agent", description="From time entries to approved invoices.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, *, state: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: the bundled demo)")
        if state:
            sub.add_argument("--data", type=Path, default=None,
                             help="folder for runs, invoices and the outbox (default: ./invoice-agent-data)")
        return sub

    draft = command("draft", "draft one client's invoice for a period (reads only)", state=False)
    draft.add_argument("--client", required=True, help="client id, name or alias")
    draft.add_argument("--period", required=True, help="YYYY-MM, or YYYY-MM-DD..YYYY-MM-DD")
    draft.add_argument("--as-of", type=_date, default=None, help="the run's date (default: today)")
    draft.add_argument("--json", action="store_true", help="print the draft as the contract's JSON")

    run = command("run", 'understand a request ("invoice Acme for March") and draft it for approval')
    run.add_argument("text")
    run.add_argument("--as-of", type=_date, default=None, help="the run's date (default: today)")

    command("approvals", "list the drafts waiting for approval, oldest first")

    approve = command("approve", "approve a run's draft: the invoice is numbered, pushed and sent")
    approve.add_argument("run")
    reject = command("reject", "reject a run's draft")
    reject.add_argument("run")
    reject.add_argument("--reason", required=True)
    revise = command("revise", "ask for changes; the engine recomputes the draft and it waits again")
    revise.add_argument("run")
    revise.add_argument("--drop", action="append", default=[], metavar="ENTRY", help="take an entry off")
    revise.add_argument("--category", action="append", default=[], type=_pair, metavar="ENTRY=CATEGORY")
    revise.add_argument("--describe", action="append", default=[], type=_pair, metavar="OLD=NEW",
                        help="rename a line")
    revise.add_argument("--reason", default="")
    resume = command("resume", "continue a run that stopped half-way (the model was unavailable, or a push or "
                               "send failed after approval); finished steps are not repeated")
    resume.add_argument("run")
    void = command("void", "void an invoice: its entries can be billed again by a new run")
    void.add_argument("number", help="the invoice number, e.g. INV-2026-0042")
    void.add_argument("--reason", required=True)

    demo = command("demo", "walk the whole story on the demo workspace, offline")
    demo.add_argument("--request", default="invoice Northwind for October")
    demo.add_argument("--as-of", type=_date, default=date(2026, 11, 1))
    for sub in (approve, reject, revise):
        sub.add_argument("--as", dest="actor", default=None, help="who decides (default: $USER)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args))
    except InvoiceAgentError as exc:
        print(f"invoice-agent: {exc}", file=sys.stderr)
        return 2


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    overrides: dict[str, object] = {}
    if getattr(args, "workspace", None) is not None:
        overrides["workspace"] = args.workspace
    if getattr(args, "data", None) is not None:
        overrides["data_dir"] = args.data
    if getattr(args, "actor", None):
        overrides["actor"] = args.actor
    return settings.model_copy(update=overrides)


def _draft(args: argparse.Namespace) -> int:
    workspace = load_workspace(args.workspace or DEMO_WORKSPACE)
    client = find_client(workspace, args.client)
    draft = draft_invoice(workspace, client.id, Period.parse(args.period), as_of=args.as_of)
    if args.json:
        print(json.dumps(draft.contract_json(), indent=2, ensure_ascii=False))
    else:
        print(render_draft(draft))
    return 0


def _say(line: str) -> None:
    print(f"  · {line}", flush=True)


def _report(runs: InvoiceRuns, outcome: RunOutcome) -> int:
    if outcome.status == "question":
        print(outcome.message)
        return 3
    if outcome.status == "awaiting_approval" and outcome.run_id:
        record = runs.rt.store.latest_draft(outcome.run_id)
        if record is not None:
            print()
            print(render_draft(record.draft))
        print(f"\nsummary: {outcome.message}")
        print(f"waiting for approval: {outcome.run_id}")
        return 0
    print(f"{outcome.client or ''} {outcome.period or ''}: {outcome.status}. {outcome.message}".strip())
    return 0 if outcome.status in ("sent", "exists", "answered", "rejected") else 1


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with open_runs(settings, as_of=args.as_of) as runs:
        outcomes = runs.request(args.text, progress=_say)
        return max(_report(runs, o) for o in outcomes)


def _approvals(args: argparse.Namespace) -> int:
    with open_runs(_settings(args)) as runs:
        pending = list(runs.waiting())
        if not pending:
            print("no drafts are waiting for approval")
        for approval in pending:
            draft = runs.rt.store.get_draft(approval.run_id, approval.draft_version).draft
            print(f"{approval.run_id}  {draft.client:<14} {draft.period_start}..{draft.period_end}  "
                  f"{draft.total:>12} {draft.currency}  held {len(draft.held)}  "
                  f"waiting since {approval.requested_at:%Y-%m-%d %H:%M}")
    return 0


def _decide(args: argparse.Namespace, decision: Decision) -> int:
    with open_runs(_settings(args)) as runs:
        return _report(runs, runs.decide(args.run, decision, progress=_say))


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, Decision(action="approve", actor=_settings(args).actor))


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, Decision(action="reject", actor=_settings(args).actor, reason=args.reason))


def _revise(args: argparse.Namespace) -> int:
    reason = args.reason or "dropped by the reviewer"
    changes = Revisions(drop={entry: reason for entry in args.drop}, categories=dict(args.category),
                        descriptions=dict(args.describe))
    return _decide(args, Decision(action="request_changes", actor=_settings(args).actor, reason=args.reason,
                                  changes=changes))


def _resume(args: argparse.Namespace) -> int:
    with open_runs(_settings(args)) as runs:
        return _report(runs, runs.resume(args.run, progress=_say))


def _void(args: argparse.Namespace) -> int:
    with open_runs(_settings(args)) as runs:
        store, workspace = runs.rt.store, runs.rt.workspace.root
        invoice = store.find_invoice(workspace, args.number)
        if invoice is None:
            print(f"invoice-agent: no invoice {args.number} in this data folder", file=sys.stderr)
            return 2
        voided = store.void_invoice(invoice.id, args.reason)
        print(f"invoice {voided.number} voided ({args.reason}); {len(voided.entries)} entries can be billed again. "
              "If it was pushed to an accounting system, void it there too.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    """The whole story, offline: a request, a draft with its anomalies, a change, approval, the sent email."""
    settings = _settings(args)
    if args.data is None:  # a fresh folder each time, so the story starts from nothing
        settings = settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="invoice-agent-demo-"))})
    print(f"(state of this demo: {settings.data_dir})\n")
    with open_runs(settings, as_of=args.as_of) as runs:
        print(f"$ invoice-agent run {args.request!r}   (as of {args.as_of}, model: {runs.rt.model.name})")
        [outcome] = runs.request(args.request, progress=_say)
        _report(runs, outcome)
        if outcome.status != "awaiting_approval" or outcome.run_id is None:
            return 1
        draft = runs.rt.store.latest_draft(outcome.run_id)
        flagged = [a for a in draft.draft.anomalies if not a.held and a.kind == "vague_description"] if draft else []
        if flagged:
            entry = flagged[0].entry_id
            print(f"\n$ invoice-agent revise {outcome.run_id} --drop {entry}   (the reviewer drops a vague entry)")
            _report(runs, runs.decide(outcome.run_id, Decision(
                action="request_changes", actor="demo-reviewer",
                changes=Revisions(drop={entry: "vague: ask for detail"})),
                progress=_say))
        print(f"\n$ invoice-agent approve {outcome.run_id}")
        done = runs.decide(outcome.run_id, Decision(action="approve", actor="demo-approver"), progress=_say)
        _report(runs, done)
        invoice = runs.rt.store.invoice_for_run(outcome.run_id)
        if invoice is not None:
            outbox = settings.data_dir / "outbox"
            print(f"\ninvoice {invoice.number}: {invoice.total} {invoice.currency}, due {invoice.due_date}, "
                  f"status {invoice.status}")
            for path in sorted(settings.data_dir.glob("invoices/*.pdf")) + sorted(outbox.glob("*.eml")):
                print(f"  {path}")
        print(f"\n$ invoice-agent approve {outcome.run_id}   (a second approval)")
        try:
            runs.decide(outcome.run_id, Decision(action="approve", actor="demo-approver"))
        except InvoiceAgentError as exc:
            print(f"invoice-agent: {exc}")
    return 0


_COMMANDS = {
    "draft": _draft, "run": _run, "approvals": _approvals, "approve": _approve, "reject": _reject,
    "revise": _revise, "resume": _resume, "void": _void, "demo": _demo,
}


if __name__ == "__main__":
    raise SystemExit(main())
