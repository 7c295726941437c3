"""The `invoice-agent` command line: draft, run, approvals, decisions, resume, void, serve, token, labels, demo."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from agent.change_words import read_changes
from agent.review import Review
from agent.structured import OFFLINE
from api.cli_args import iso_date, settings_of
from api.cli_ask import COMMANDS as ASK_COMMANDS
from api.cli_ask import add_parsers as add_ask_parsers
from api.cli_collections import COMMANDS as COLLECTIONS_COMMANDS
from api.cli_collections import add_parsers as add_collections_parsers
from api.cli_labels import COMMANDS as LABELS_COMMANDS
from api.cli_labels import add_parsers as add_labels_parsers
from api.cli_labels import with_stored_labels
from api.cli_rules import COMMANDS as RULES_COMMANDS
from api.cli_rules import add_parsers as add_rules_parsers
from api.cli_worker import COMMANDS as WORKER_COMMANDS
from api.cli_worker import add_parsers as add_worker_parsers
from api.settings import DEMO_WORKSPACE
from api.wiring import open_runs
from graph.nodes import Decision
from graph.runs import InvoiceRuns, RunNotWaitingError, RunOutcome
from tools.clients import find_client
from tools.drafts import draft_invoice
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.render import render_draft
from tools.revisions import Revisions
from tools.sources import commands as source_commands
from tools.store import Store
from tools.store.tokens import ROLES, ApiTokens, parse_duration
from tools.workspace import load_workspace


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
    draft.add_argument("--as-of", type=iso_date, default=None, help="the run's date (default: today)")
    draft.add_argument("--json", action="store_true", help="print the draft as the contract's JSON")
    draft.add_argument("--data", type=Path, default=None,
                       help="also learn categories from the labels people confirmed in this data folder's store "
                            "(default: only the workspace's entry_labels.csv)")

    run = command("run", 'understand a request ("invoice Acme for March") and draft it for approval')
    run.add_argument("text")
    run.add_argument("--as-of", type=iso_date, default=None, help="the run's date (default: today)")

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
    revise.add_argument("--say", default=None, metavar="WORDS",
                        help='changes in words ("drop the offsite, make e-0012 design"): shown, applied with --yes')
    revise.add_argument("--yes", action="store_true", help="with --say: apply the changes read without asking")
    resume = command("resume", "continue a run that stopped half-way (the model was unavailable, or a push or "
                               "send failed after approval); finished steps are not repeated")
    resume.add_argument("run")
    void = command("void", "void an invoice: its entries can be billed again by a new run")
    void.add_argument("number", help="the invoice number, e.g. INV-2026-0042")
    void.add_argument("--reason", required=True)

    serve = command("serve", "serve the HTTP API: runs draft in the background, approvers decide by token")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--tick-every", type=float, default=None, metavar="SECONDS",
                       help="collections ticks (reminders, payments) every SECONDS; 0: none (default: 3600)")

    token = commands.add_parser("token", help="API tokens: create, list, revoke", description="API tokens")
    tokens = token.add_subparsers(dest="token_command", required=True)
    create = tokens.add_parser("create", help="create a token and print it (alone, on stdout)")
    create.add_argument("--role", required=True, choices=ROLES,
                        help="approver: may start runs and decide; viewer: may only read")
    create.add_argument("--label", default=None,
                        help="whose token: decisions are recorded under this name (default: $USER)")
    create.add_argument("--expires-in", type=_token_lifetime, default=argparse.SUPPRESS, metavar="DURATION",
                        help="e.g. 30d, 12h, 90m, 2w, or never (default: INVOICE_AGENT_TOKEN_EXPIRES_IN, else never)")
    tokens.add_parser("list", help="list the tokens (never their secrets), with their expiry")
    revoke_token = tokens.add_parser("revoke", help="revoke a token by its id")
    revoke_token.add_argument("id")
    for sub in tokens.choices.values():
        sub.add_argument("--data", type=Path, default=None,
                         help="folder of the server's data (default: ./invoice-agent-data)")

    add_collections_parsers(commands, command)  # tick, payments, ar
    add_labels_parsers(commands, command)  # labels export
    add_rules_parsers(commands, command)  # rules suggest
    add_ask_parsers(commands, command)  # ask RUN "question"
    add_worker_parsers(commands, command)  # worker: draft the runs queued over HTTP
    source_commands.register(commands, command)  # sync, import, sources

    _ledger_parser(commands)

    from evals.cli import register as register_evals  # eval: replay the history and score the drafts

    _COMMANDS.update(register_evals(commands, command))

    demo = command("demo", "walk the whole story on the demo workspace, offline")
    demo.add_argument("--request", default="invoice Northwind for October")
    demo.add_argument("--as-of", type=iso_date, default=date(2026, 11, 1))
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



def _draft(args: argparse.Namespace) -> int:
    workspace = load_workspace(args.workspace or DEMO_WORKSPACE)
    if args.data is not None:
        workspace = with_stored_labels(workspace, settings_of(args))
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
            if record.review is not None:
                print("\n" + Review.model_validate(record.review).render(outcome.run_id))
        print(f"\nsummary: {outcome.message}")
        print(f"waiting for approval: {outcome.run_id}")
        return 0
    print(f"{outcome.client or ''} {outcome.period or ''}: {outcome.status}. {outcome.message}".strip())
    return 0 if outcome.status in ("sent", "exists", "answered", "rejected") else 1


def _run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    with open_runs(settings, as_of=args.as_of) as runs:
        outcomes = runs.request(args.text, progress=_say)
        return max(_report(runs, o) for o in outcomes)


def _approvals(args: argparse.Namespace) -> int:
    with open_runs(settings_of(args)) as runs:
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
    with open_runs(settings_of(args)) as runs:
        return _report(runs, runs.decide(args.run, decision, progress=_say))


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, Decision(action="approve", actor=settings_of(args).actor))


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, Decision(action="reject", actor=settings_of(args).actor, reason=args.reason))


def _revise(args: argparse.Namespace) -> int:
    reason = args.reason or "dropped by the reviewer"
    changes = Revisions(drop={entry: reason for entry in args.drop}, categories=dict(args.category),
                        descriptions=dict(args.describe))
    if args.say is not None:
        return _revise_in_words(args, changes)
    return _decide(args, Decision(action="request_changes", actor=settings_of(args).actor, reason=args.reason,
                                  changes=changes))


def _revise_in_words(args: argparse.Namespace, explicit: Revisions) -> int:
    """`revise RUN --say WORDS`: read the words, show the changes, apply them only when a person confirms."""
    with open_runs(settings_of(args)) as runs:
        approval = runs.rt.store.get_approval(args.run)
        if approval.status != "pending":
            raise RunNotWaitingError(f"run {args.run} is not waiting for approval (status {approval.status})")
        draft = runs.rt.store.get_draft(args.run, approval.draft_version).draft
        proposal = read_changes(args.say, draft, runs.rt.workspace, model=runs.rt.model)
        print(proposal.describe())
        changes = proposal.revisions.merged(explicit)
        if changes == Revisions():
            print("nothing was changed")
            return 1
        if proposal.source != OFFLINE:  # a model read the words: a person sees its reading before it applies
            if not _confirmed(f"{proposal.source} read part of these words; apply the changes above? [y/N] "):
                print(f"\nnothing was changed: {proposal.source} read part of these words, so they apply only when "
                      f"confirmed at a terminal, or as explicit changes:\n  {_as_flags(args.run, changes)}")
                return 0
        elif not (args.yes or _confirmed("apply these changes? [y/N] ")):
            print("\nnothing was changed yet: to apply these changes, run the same command again with --yes")
            return 0
        decision = Decision(action="request_changes", actor=settings_of(args).actor, reason=args.reason or args.say,
                            changes=changes)
        return _report(runs, runs.decide(args.run, decision, progress=_say))


def _as_flags(run_id: str, changes: Revisions) -> str:
    """The `revise` command that makes exactly these changes, with no words left to read."""
    parts = [f"invoice-agent revise {run_id}", *(f"--drop {e}" for e in changes.drop),
             *(f"--category {e}={c}" for e, c in changes.categories.items()),
             *(f"--describe {shlex.quote(f'{old}={new}')}" for old, new in changes.descriptions.items())]
    return " ".join(parts)


def _confirmed(question: str) -> bool:
    """A person's "y" at a terminal; never yes when nobody is there to answer."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return input(question).strip().lower() in ("y", "yes")


def _resume(args: argparse.Namespace) -> int:
    with open_runs(settings_of(args)) as runs:
        return _report(runs, runs.resume(args.run, progress=_say))


def _void(args: argparse.Namespace) -> int:
    with open_runs(settings_of(args)) as runs:
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
    settings = settings_of(args)
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = settings_of(args)
    if "public_url" not in settings.model_fields_set:  # links in notifications point at this server
        host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        settings = settings.model_copy(update={"public_url": f"http://{host}:{args.port}"})
    if args.tick_every is not None or "tick_every" not in settings.model_fields_set:
        settings = settings.model_copy(update={"tick_every": 3600.0 if args.tick_every is None else args.tick_every})
    app = create_app(settings)
    print(f"invoice-agent: serving {settings.workspace} on http://{args.host}:{args.port} "
          f"(data: {settings.database_url or settings.data_dir}; API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(settings.store_url()) as store:
        store.migrate()
        tokens = ApiTokens(store)
        if args.token_command == "create":
            secret, record = tokens.create(args.role, args.label or settings.actor,
                                           expires_in=vars(args).get("expires_in", settings.token_expires_in))
            print(f"token {record.id}: {record.role} for {record.label!r}, {_expiry(record.expires_at)}; "
                  "it is shown only now", file=sys.stderr)
            print(secret)
        elif args.token_command == "list":
            for record in tokens.list():
                state = (f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at
                         else "expired" if not tokens.live(record) else "live")
                print(f"{record.id}  {record.role:<8} {record.label:<24} created {record.created_at:%Y-%m-%d %H:%M}"
                      f"  {_expiry(record.expires_at):<24}  {state}")
        else:
            record = tokens.revoke(args.id)
            print(f"token {record.id} ({record.role}, {record.label!r}) is revoked")
    return 0


def _token_lifetime(text: str) -> timedelta | None:
    """--expires-in: a duration (30d, 12h, 90m, 2w) or never."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _expiry(expires_at: datetime | None) -> str:
    return "expires never" if expires_at is None else f"expires {expires_at:%Y-%m-%d %H:%M} UTC"


def _sources(args: argparse.Namespace) -> int:
    """`sync`, `import` and `sources` (tools/sources/commands.py); never into the bundled demo."""
    settings = settings_of(args)
    return source_commands.run(args, settings.workspace, settings.data_dir,
                               lambda as_of: open_runs(settings, as_of=as_of), demo=DEMO_WORKSPACE)


def _ledger_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`invoice-agent ledger key|connect|check`: the accounting ledger invoices are pushed to."""
    from tools.connectors.select import LEDGERS

    ledger = commands.add_parser("ledger", help="the accounting ledger: key, connect, check",
                                 description="the ledger approved invoices are pushed to (INVOICE_AGENT_LEDGER: "
                                             "local, quickbooks, xero or stripe)")
    ledgers = ledger.add_subparsers(dest="ledger_command", required=True)
    ledgers.add_parser("key", help="print a new key for INVOICE_AGENT_CREDENTIALS_KEY (credentials are encrypted)")
    connect = ledgers.add_parser("connect", help="store a ledger's credentials (encrypted), then check them")
    to = connect.add_subparsers(dest="ledger_name", required=True)
    secret = "or - to read it from stdin"
    qbo = to.add_parser("quickbooks", help="QuickBooks Online: a refresh token, or an authorization code")
    qbo.add_argument("--client-id", required=True)
    qbo.add_argument("--client-secret", required=True, help=secret)
    qbo.add_argument("--realm-id", default="", help="the company id (realmId in the redirect)")
    qbo.add_argument("--environment", choices=("sandbox", "production"), default="production")
    qbo.add_argument("--redirect-uri", default="http://localhost:8000/ledger/quickbooks/callback")
    qbo.add_argument("--refresh-token", default=None, help=f"e.g. from Intuit's OAuth playground; {secret}")
    qbo.add_argument("--auth-code", default=None, help="the code from the redirect (without it and without "
                                                      "--refresh-token, the authorization URL is printed)")
    xero = to.add_parser("xero", help="Xero: an OAuth2 app's client, the tenant (organisation) and a refresh token")
    xero.add_argument("--client-id", required=True)
    xero.add_argument("--client-secret", required=True, help=secret)
    xero.add_argument("--tenant-id", required=True, help="from GET https://api.xero.com/connections")
    xero.add_argument("--refresh-token", required=True, help=secret)
    stripe = to.add_parser("stripe", help="Stripe: a secret or restricted key, and the webhook signing secret")
    stripe.add_argument("--api-key", required=True, help=secret)
    stripe.add_argument("--webhook-secret", default="", help=f"whsec_... for POST /webhooks/stripe; {secret}")
    check = ledgers.add_parser("check", help="say whether the ledger connection works")
    check.add_argument("name", nargs="?", choices=LEDGERS, default=None, help="default: INVOICE_AGENT_LEDGER")
    for sub in [*to.choices.values(), check]:
        sub.add_argument("--data", type=Path, default=None,
                         help="folder of the credentials (default: ./invoice-agent-data)")
    for sub in to.choices.values():
        sub.add_argument("--no-check", action="store_true", help="store only; do not contact the ledger")


def _ledger(args: argparse.Namespace) -> int:
    from tools.connectors import select
    from tools.connectors.credentials import generate_key

    if args.ledger_command == "key":
        print(generate_key())
        return 0
    settings, config = settings_of(args), select.LedgerConfig()

    def secret(value: str) -> str:
        return sys.stdin.readline().strip() if value == "-" else value

    name = args.ledger_name if args.ledger_command == "connect" else args.name
    if args.ledger_command == "connect":
        if name == "quickbooks":
            print(select.connect_quickbooks(
                settings.data_dir, config, client_id=args.client_id, client_secret=secret(args.client_secret),
                realm_id=args.realm_id, environment=args.environment, redirect_uri=args.redirect_uri,
                refresh_token=secret(args.refresh_token) if args.refresh_token else None, auth_code=args.auth_code))
            if not (args.refresh_token or args.auth_code):
                return 0
        elif name == "xero":
            print(select.connect_xero(settings.data_dir, config, client_id=args.client_id,
                                      client_secret=secret(args.client_secret), tenant_id=args.tenant_id,
                                      refresh_token=secret(args.refresh_token)))
        else:
            print(select.connect_stripe(settings.data_dir, config, api_key=secret(args.api_key),
                                        webhook_secret=secret(args.webhook_secret) if args.webhook_secret else ""))
        if args.no_check:
            return 0
    ledger = select.open_ledger(name, settings.data_dir, config)
    print(f"{ledger.name}: {select.check_ledger(ledger)}")
    return 0


_COMMANDS = {
    "draft": _draft, "run": _run, "approvals": _approvals, "approve": _approve, "reject": _reject,
    "revise": _revise, "resume": _resume, "void": _void, "serve": _serve, "token": _token, "demo": _demo,
    "ledger": _ledger,
    **COLLECTIONS_COMMANDS,
    **LABELS_COMMANDS,
    **RULES_COMMANDS,
    **ASK_COMMANDS,
    **WORKER_COMMANDS,
    "sync": _sources, "import": _sources, "sources": _sources,
}


if __name__ == "__main__":
    raise SystemExit(main())
