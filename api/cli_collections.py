"""The collections commands of `invoice-agent`: tick, payments (match, import, queue, resolve), ar.

    invoice-agent tick [--date D]                         one collections tick (cron, tests)
    invoice-agent payments match --workspace DIR [--json] match payments.csv against the invoices (reads only)
    invoice-agent payments import FILE --mapping SPEC     record a bank export (CSV with a mapping, or OFX)
    invoice-agent payments queue [--json]                 payments waiting for a person, with candidates
    invoice-agent payments resolve PAYMENT --invoice N    say which invoice(s) it pays (or --ignore)
    invoice-agent payments propose [PAYMENT...] [--json]  Claude's proposals for queued payments (checked)
    invoice-agent ar [--as-of D] [--png FILE] [--json]    receivables: DSO, on-time shares, aging

`api.cli` adds these to its parser with `add_parsers` and dispatches to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from agent.payment_proposals import open_invoices, propose
from agent.select import choose_model
from api.cli_args import Command, iso_date, settings_of
from api.settings import Settings
from graph.collections import run_tick
from tools.errors import DomainError
from tools.money import format_money
from tools.payments import (
    BankMapping,
    IncomingPayment,
    from_workspace,
    load_match_policy,
    match_payments,
    read_bank_csv,
    read_ofx,
)
from tools.receivables import BUCKETS, Book, ar_report, from_history, merge_receivables, render_aging_png
from tools.store import DatabaseUnavailableError, Store
from tools.store.collections import Collections, PaymentRecord
from tools.workspace import load_workspace

__all__ = ["COMMANDS", "add_parsers"]




def _state_options(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: the bundled demo)")
    sub.add_argument("--data", type=Path, default=None,
                     help="folder for runs, invoices and the outbox (default: ./invoice-agent-data)")
    return sub


def add_parsers(commands: Any, command: Command) -> None:
    """Add tick, payments and ar to the `invoice-agent` subcommands (`command` is api.cli's helper)."""
    tick = command("tick", "run one collections tick: import payments, send the reminders due, escalate")
    tick.add_argument("--date", type=iso_date, default=None, help="the tick's day (default: today)")
    tick.add_argument("--json", action="store_true", help="print the tick's report as JSON")

    payments = commands.add_parser("payments", help="payments: match, import, the queue, resolve",
                                   description="payments: match, import, the queue, resolve")
    actions = payments.add_subparsers(dest="payments_command", required=True)
    match = _state_options(actions.add_parser(
        "match", help="match the workspace's payments.csv to its invoices and print the result (reads only)"))
    match.add_argument("--json", action="store_true", help='print [{"payment_id", "invoice_numbers"}]')
    imported = _state_options(actions.add_parser(
        "import", help="record the payments of a bank export and match them; the doubtful wait in the queue"))
    imported.add_argument("file", type=Path)
    imported.add_argument("--mapping", default=None,
                          help='the CSV columns: a preset ("chase", "payments_csv"), a YAML file, or '
                               '"date=Posting Date,amount=Amount,reference=Description,currency=USD,'
                               'date_format=%%m/%%d/%%Y" (not needed for OFX)')
    imported.add_argument("--currency", default=None, help="currency of an OFX file without CURDEF")
    queue = _state_options(actions.add_parser("queue", help="payments waiting for a person, with candidates"))
    queue.add_argument("--json", action="store_true")
    resolve = _state_options(actions.add_parser("resolve", help="say which invoice(s) a queued payment settles"))
    resolve.add_argument("payment", help="the payment's id")
    resolve.add_argument("--invoice", action="append", default=[], metavar="NUMBER",
                         help="an invoice it settles (repeat for several)")
    resolve.add_argument("--ignore", action="store_true", help="it settles no invoice (say why with --reason)")
    resolve.add_argument("--reason", default="")
    resolve.add_argument("--as", dest="actor", default=None, help="who decides (default: $USER)")
    propose = _state_options(actions.add_parser(
        "propose", help="Claude proposes which open invoices queued payments pay, from their reference and "
                        "payer (checked by code; confirm with `payments resolve`); offline: none"))
    propose.add_argument("payment", nargs="*", help="only these queued payments (default: the whole queue)")
    propose.add_argument("--json", action="store_true")

    ar = command("ar", "receivables: DSO, invoices sent and paid on time, aging per client, usual days to pay")
    ar.add_argument("--as-of", type=iso_date, default=None, help="measure on this day (default: today)")
    ar.add_argument("--png", type=Path, default=None, help="also draw the aging as a PNG chart here")
    ar.add_argument("--json", action="store_true")



def _open_store(settings: Settings) -> Store:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url())
    store.migrate()
    return store


def _tick(args: argparse.Namespace) -> int:
    report = run_tick(settings_of(args), args.date)
    if args.json:
        print(report.model_dump_json(indent=2))
        return 1 if report.failed else 0
    print(f"tick {report.date}: {report.payments_imported} new payment(s), {len(report.payments_matched)} matched, "
          f"{len(report.payments_queued)} queued; {len(report.reminders)} reminder(s) and "
          f"{len(report.escalations)} escalation(s) sent")
    for line in report.progress:
        print(f"  · {line}")
    return 1 if report.failed else 0


def _payments(args: argparse.Namespace) -> int:
    handler = {"match": _match, "import": _import, "queue": _queue, "resolve": _resolve,
               "propose": _propose}[args.payments_command]
    return handler(args)


def _match(args: argparse.Namespace) -> int:
    """Pure matching of payments.csv: the workspace's history, plus the store's invoices when a store exists."""
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    receivables = from_history(workspace)
    if settings.database_url or Path(settings.store_url().removeprefix("sqlite:///")).exists():
        try:
            with Store(settings.store_url()) as store:
                book = Collections(store).book(workspace)
            receivables = merge_receivables(receivables, [r for r in book.receivables.values() if r.source == "store"])
        except (DatabaseUnavailableError, SQLAlchemyError) as exc:
            print(f"invoice-agent: store not read ({exc}); matching against invoices.csv only", file=sys.stderr)
    matches = match_payments(from_workspace(workspace), receivables, clients=workspace.clients,
                             number_format=workspace.settings.invoice_number_format, book=Book(receivables),
                             policy=load_match_policy(workspace.root))
    if args.json:
        print(json.dumps([{"payment_id": m.payment.id, "invoice_numbers": m.invoice_numbers if m.auto else []}
                          for m in matches], indent=2))
        return 0
    for m in matches:
        settled = ", ".join(m.invoice_numbers) or "-"
        print(f"{m.payment.id:<12} {m.payment.date} {m.payment.amount:>12} {m.payment.currency}  "
              f"{'matched' if m.auto else 'QUEUE  '} {m.confidence:.2f}  {settled}")
        print(f"{'':14}{m.reason}")
    auto = sum(1 for m in matches if m.auto)
    print(f"\n{auto} of {len(matches)} payments matched automatically; {len(matches) - auto} need a person")
    return 0


def _import(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    payments: list[IncomingPayment]
    if args.file.suffix.lower() in (".ofx", ".qfx"):
        payments = read_ofx(args.file.read_text(encoding="latin-1"), currency=args.currency)
    else:
        if not args.mapping:
            print("invoice-agent: a CSV export needs --mapping (its date, amount and reference columns)",
                  file=sys.stderr)
            return 2
        try:
            mapping = BankMapping.parse(args.mapping)
        except ValueError as exc:
            print(f"invoice-agent: --mapping: {exc}", file=sys.stderr)
            return 2
        payments, issues = read_bank_csv(args.file, mapping)
        for issue in issues:
            print(f"invoice-agent: skipped {issue}", file=sys.stderr)
    with _open_store(settings) as store:
        report = Collections(store).import_payments(workspace, payments, load_match_policy(workspace.root))
    print(f"{len(payments)} payment(s) received in {args.file.name}: {len(report.new)} new "
          f"({len(report.matched)} matched, {len(report.queued)} queued), {report.known} already recorded")
    for p in report.new:
        _print_payment(p)
    return 0


def _print_payment(p: PaymentRecord, *, candidates: bool = False) -> None:
    settled = ", ".join(p.settled_invoices) or ("proposed " + ", ".join(p.proposal) if p.proposal else "-")
    print(f"{p.payment_id:<20} {p.date} {p.amount:>12} {p.currency}  {p.status:<8} {p.confidence}  {settled}")
    print(f"{'':22}{p.payer} | {p.reference}")
    print(f"{'':22}{p.reason}")
    if candidates:
        for c in p.candidates:
            print(f"{'':24}? {c.invoice_number}  {c.client:<12} balance {c.balance} {c.currency}, due {c.due_date}: "
                  f"{c.why}")


def _queue(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    with _open_store(settings) as store:
        queued = Collections(store).queue(workspace.root)
    if args.json:
        print(json.dumps([p.model_dump(mode="json") for p in queued], indent=2))
        return 0
    if not queued:
        print("no payments are waiting for a person")
    for p in queued:
        _print_payment(p, candidates=True)
    return 0


def _resolve(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    if args.ignore == bool(args.invoice):
        print("invoice-agent: give --invoice NUMBER (one or more), or --ignore with a --reason", file=sys.stderr)
        return 2
    with _open_store(settings) as store:
        collections = Collections(store)
        if args.ignore:
            reason = args.reason or "not a client payment"
            record = collections.ignore(workspace.root, args.payment, settings.actor, reason)
        else:
            record = collections.resolve(workspace, args.payment, args.invoice, settings.actor,
                                         load_match_policy(workspace.root))
    _print_payment(record)
    return 0


def _propose(args: argparse.Namespace) -> int:
    """Proposals for queued payments: shown only; `payments resolve` confirms one."""
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    with _open_store(settings) as store:
        collections = Collections(store)
        queued = collections.queue(workspace.root)
        invoices = open_invoices(collections.book(workspace), workspace.clients)
    unknown = sorted(set(args.payment) - {p.payment_id for p in queued})
    if unknown:
        print(f"invoice-agent: not waiting in the queue: {', '.join(unknown)}", file=sys.stderr)
        return 2
    model, meter = choose_model(settings.anthropic_api_key, settings.claude_model), settings.meter()
    reports = [(p, propose(p, invoices, model=model, meter=meter)) for p in queued
               if not args.payment or p.payment_id in args.payment]
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for _, r in reports], indent=2))
        return 0
    if not reports:
        print("no payments are waiting for a person")
    for p, report in reports:
        _print_payment(p, candidates=True)
        for proposal in report.proposals:
            print(f"{'':24}proposed by {proposal.source}: {proposal.describe()}")
            print(f"{'':26}confirm: invoice-agent payments resolve {' '.join(proposal.confirm_args)}")
        for refused in report.refused:
            print(f"{'':24}refused from {report.source}: {refused}")
        for note in report.notes:
            print(f"{'':24}note: {note}")
    return 0


def _ar(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    with _open_store(settings) as store:
        book = Collections(store).book(workspace)
    report = ar_report(book, args.as_of or date.today())
    if args.png:
        names = {c.id: c.name for c in workspace.clients}
        print(f"aging chart: {render_aging_png(report, args.png, names=names)}", file=sys.stderr)
    if args.json:
        print(report.model_dump_json(indent=2, exclude={"invoices"}))
        return 0
    print(f"Receivables as of {report.as_of}")
    print(f"  sent on time (within {report.send_within_days} days of the period's end): {_share(report.sent_on_time)}")
    print(f"  paid on time (by the due date): {_share(report.paid_on_time)}")
    header = "  ".join(f"{b.replace('_', ' '):>12}" for b in BUCKETS)
    for total in report.totals:
        dso = f"{total.dso_days} days" if total.dso_days is not None else "n/a (nothing invoiced)"
        print(f"\n{total.currency}: open {format_money(total.open_balance)}, DSO {dso} "
              f"(invoiced {format_money(total.invoiced_in_window)} in the last {report.window_days} days)")
        print(f"  {'client':<14}{header}  {'usual days to pay':>18}")
        for c in (c for c in report.clients if c.currency == total.currency):
            usual = f"{c.usual_days_to_pay:g}" if c.usual_days_to_pay is not None else "-"
            cells = "  ".join(f"{format_money(c.aging[b]):>12}" for b in BUCKETS)
            print(f"  {c.client:<14}{cells}  {usual:>18}")
        cells = "  ".join(f"{format_money(total.aging[b]):>12}" for b in BUCKETS)
        print(f"  {'total':<14}{cells}")
    return 0


def _share(share: Any) -> str:
    if share.share is None:
        return "n/a"
    return f"{share.on_time} of {share.total} ({share.share:.0%})"


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (DomainError, ValueError) as exc:
            print(f"invoice-agent: {exc}", file=sys.stderr)
            return 2

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "tick": _tick, "payments": _guarded(_payments), "ar": _ar,
}
