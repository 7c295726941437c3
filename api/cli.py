"""The `invoice-agent` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import tools
from tools.clients import find_client
from tools.drafts import DraftContext, draft_invoice
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.render import render_draft
from tools.workspace import load_workspace

DEMO_WORKSPACE = Path(tools.__file__).parent / "demo" / "parallax"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invoice-agent", description="From time entries to approved invoices.")
    commands = parser.add_subparsers(dest="command", required=True)

    draft = commands.add_parser("draft", help="draft one client's invoice for a period")
    draft.add_argument("--workspace", type=Path, default=DEMO_WORKSPACE, help="workspace folder (default: demo)")
    draft.add_argument("--client", required=True, help="client id, name or alias")
    draft.add_argument("--period", required=True, help="YYYY-MM, or YYYY-MM-DD..YYYY-MM-DD")
    draft.add_argument("--as-of", type=_date, default=None, help="the run's date (default: today)")
    draft.add_argument("--json", action="store_true", help="print the draft as the contract's JSON")

    demo = commands.add_parser("demo", help="draft every client of the bundled demo for its open month")
    demo.add_argument("--workspace", type=Path, default=DEMO_WORKSPACE)
    demo.add_argument("--period", default="2026-10")
    demo.add_argument("--as-of", type=_date, default=date(2026, 11, 1))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "draft":
            return _draft(args)
        return _demo(args)
    except InvoiceAgentError as exc:
        print(f"invoice-agent: {exc}", file=sys.stderr)
        return 2


def _draft(args: argparse.Namespace) -> int:
    workspace = load_workspace(args.workspace)
    client = find_client(workspace, args.client)
    draft = draft_invoice(workspace, client.id, Period.parse(args.period), as_of=args.as_of)
    if args.json:
        print(json.dumps(draft.contract_json(), indent=2, ensure_ascii=False))
    else:
        print(render_draft(draft))
    return 0


def _demo(args: argparse.Namespace) -> int:
    workspace = load_workspace(args.workspace)
    period = Period.parse(args.period)
    context = DraftContext(workspace, args.as_of)
    print(f"{workspace.settings.firm}: drafts for {period}, as of {context.as_of}\n")
    for client in workspace.clients:
        print(render_draft(draft_invoice(workspace, client.id, period, context=context)))
        print("\n" + "-" * 100 + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
