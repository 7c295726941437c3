"""The rules commands of `invoice-agent`: a client's billing rules from plain words, written on confirmation.

    invoice-agent rules suggest CLIENT "doesn't pay for internal meetings; travel at half rate"
        [--workspace DIR] [--period P] [--as-of DATE] [--write]

`suggest` prints the validated clients.yaml changes the words make (each with the words it came from),
what it could not read, and last period's invoice drafted with the current and the suggested terms (lines
added, removed and changed; totals before -> after). clients.yaml is written only when the person
confirms: `--write`, or "y" at the prompt when run at a terminal; otherwise nothing is written and the
command says how to write. The bundled demo workspace is never written. `api.cli` adds the parser with
`add_parsers` and dispatches to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.rules import Suggestion, preview_suggestion, suggest_rules, write_suggestion
from agent.select import choose_model
from agent.structured import OFFLINE
from api.cli_args import Command, iso_date
from api.settings import DEMO_WORKSPACE, Settings
from tools.clients_file import CLIENTS_FILE
from tools.rule_preview import render_preview
from tools.workspace import load_workspace

__all__ = ["COMMANDS", "add_parsers", "render_suggestion"]




def add_parsers(commands: Any, command: Command) -> None:
    """Add `rules suggest` to the `invoice-agent` subcommands (`command` is api.cli's helper)."""
    rules = commands.add_parser("rules", help="a client's billing rules, from plain words",
                                description="a client's billing rules, from plain words")
    actions = rules.add_subparsers(dest="rules_command", required=True)
    suggest = actions.add_parser(
        "suggest", help="turn plain words into clients.yaml rules and preview last period's invoice with them",
        description="turn plain words into validated clients.yaml rules, and preview last period's invoice with "
                    "them; clients.yaml is written only with --write (or a yes at the prompt)")
    suggest.add_argument("client", help="client id, name or alias")
    suggest.add_argument("text", help="the rules in plain words, e.g. \"doesn't pay for internal meetings\"")
    suggest.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: the bundled demo)")
    suggest.add_argument("--period", default=None,
                         help="the period to preview, YYYY-MM or a range (default: the client's last month with "
                              "entries before --as-of)")
    suggest.add_argument("--as-of", type=iso_date, default=None, help="today's date (default: today)")
    suggest.add_argument("--write", action="store_true", help="write the rules to clients.yaml, without asking")


def render_suggestion(suggestion: Suggestion, name: str) -> str:
    """The suggestion for a person: each change with its words, what was not read, and the notes."""
    read_by = "offline" if suggestion.source == OFFLINE else f"with {suggestion.source}"
    out = [f"Rules for {name} ({suggestion.client}), read {read_by} from: {suggestion.text!r}", ""]
    if not suggestion.rules:
        out.append("  no rule could be read from these words")
    for i, rule in enumerate(suggestion.rules, 1):
        by = "" if rule.source == OFFLINE else f" [suggested by {rule.source}]"
        out.append(f"  {i}. {rule.as_yaml()}")
        out.append(f"     {rule.words!r}: {rule.explanation}{by}")
        if rule.comment:
            out.append(f"     {rule.source}: {rule.comment}")
    for title, items in (("Not read", suggestion.unread), ("Notes", suggestion.notes)):
        if items:
            out += ["", f"{title}:"] + [f"  {item}" for item in items]
    return "\n".join(out)


def _is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirmed(path: Path) -> bool:
    """A person's yes at the terminal; never asked when no one is there to answer."""
    if not _is_terminal():
        return False
    try:
        answer = input(f"\nWrite these rules to {path}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _suggest(args: argparse.Namespace) -> int:
    settings = Settings()
    folder = args.workspace or settings.workspace
    workspace = load_workspace(folder)
    model = choose_model(settings.anthropic_api_key, settings.claude_model)
    suggestion = suggest_rules(args.text, args.client, workspace, model=model, meter=settings.meter())
    client = workspace.client(suggestion.client)
    print(render_suggestion(suggestion, client.name))
    if not suggestion.changed:
        print("\nNothing to write: these words change none of the client's terms.")
        return 1 if not suggestion.rules else 0
    preview = preview_suggestion(workspace, suggestion, today=args.as_of, period=args.period)
    print()
    print(render_preview(preview) if preview else f"No entries of {client.name} before today to preview with.")
    path = Path(workspace.root) / CLIENTS_FILE
    if Path(workspace.root).resolve() == DEMO_WORKSPACE.resolve():
        print(f"\nNothing was written: the bundled demo workspace is read-only. Copy {DEMO_WORKSPACE} and pass "
              "--workspace DIR to write rules.")
        return 0
    read_by_model = [r for r in suggestion.rules if r.source != OFFLINE]
    if read_by_model and not _confirmed(path):  # a person sees a model's reading before it is written
        print(f"\nNothing was written: {read_by_model[0].source} read {len(read_by_model)} of these rules, so they "
              "are written only when confirmed at a terminal (--write is not enough); or say them in words the "
              "grammar reads.")
        return 0
    if read_by_model or args.write or _confirmed(path):
        written = write_suggestion(workspace, suggestion)
        print(f"\nWrote {len(suggestion.rules)} change(s) to {written}; the other clients are as they were.")
        return 0
    again = ["invoice-agent", "rules", "suggest", suggestion.client, args.text, "--workspace", str(folder), "--write"]
    print(f"\nNothing was written. To write these rules to {path}, run:\n  {shlex.join(again)}")
    return 0


def _rules(args: argparse.Namespace) -> int:
    return _suggest(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"rules": _rules}
