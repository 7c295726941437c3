"""The ask command of `invoice-agent`: a question about a run's draft, answered from the draft's own figures.

    invoice-agent ask RUN "why is Acme up 30 % on February?" [--version N] [--json]

The answer is Claude's when an API key is configured (every figure it quotes checked against the draft's,
a sentence quoting any other removed and noted), else the offline template's (`agent.ask`). It says which,
then the notes. `api.cli` adds the parser with `add_parsers` and dispatches to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from agent.ask import Answer, answer_question
from agent.select import choose_model
from agent.structured import OFFLINE
from api.cli_args import Command, settings_of
from tools.store import DraftRecord, RecordNotFoundError, Store
from tools.workspace import load_workspace

__all__ = ["COMMANDS", "add_parsers", "render_answer"]



def add_parsers(commands: Any, command: Command) -> None:
    """Add `ask` to the `invoice-agent` subcommands (`command` is api.cli's helper: --workspace, --data)."""
    ask = command("ask", "ask a question about a run's draft; every figure in the answer is computed by code")
    ask.add_argument("run", help="the run whose draft the question is about")
    ask.add_argument("question", help='e.g. "why is the total up?", "what is held?", "who worked most?"')
    ask.add_argument("--version", type=int, default=None, help="the draft's version (default: the latest)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (as the API answers it)")



def run_draft(store: Store, workspace_root: str, run_id: str, version: int | None = None) -> DraftRecord:
    """The run's draft (the latest, or `version`), if the run is one of this workspace's."""
    run = store.get_run(run_id)
    if run.workspace != workspace_root:
        raise RecordNotFoundError("run", f"{run_id} in the workspace {workspace_root} (it was drafted on "
                                         f"{run.workspace}: pass --workspace)")
    if version is not None:
        return store.get_draft(run_id, version)
    record = store.latest_draft(run_id)
    if record is None:
        raise RecordNotFoundError("draft", f"{run_id} (the run is {run.status} and has drafted nothing yet)")
    return record


def render_answer(answer: Answer) -> str:
    """The answer, whose it is, and its notes, as the command prints them."""
    if answer.source == OFFLINE:
        whose = "the offline answer: templates over the draft's own figures"
    else:
        whose = f"{answer.source}'s answer" + (
            "; every figure in it checked against the draft's" if answer.figures_checked else "")
    out = [answer.text, "", f"({whose})"]
    if answer.relied_on:
        out.append(f"relied on: {', '.join(answer.relied_on)}")
    if answer.notes:
        out += ["notes:", *(f"  · {note}" for note in answer.notes)]
    return "\n".join(out)


def _ask(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    workspace = load_workspace(settings.workspace)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(settings.store_url()) as store:
        store.migrate()
        record = run_draft(store, workspace.root, args.run, args.version)
    answer = answer_question(workspace, record.draft, args.question,
                             model=choose_model(settings.anthropic_api_key, settings.claude_model))
    if args.json:
        print(json.dumps({"run_id": args.run, "draft_version": record.version, "question": args.question,
                          "answer": answer.text, **answer.model_dump(exclude={"text"})}, indent=2,
                         ensure_ascii=False))  # the shape of POST /runs/{run_id}/ask's answer
    else:
        print(render_answer(answer))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"ask": _ask}
