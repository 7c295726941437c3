"""`invoice-agent eval WORKSPACE [--model offline|claude] [--json OUT]`: replay the history and score it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.replay import Drafter, engine_drafter
from evals.report import evaluate, render, write_json

DEFAULT_CASSETTES = Path(__file__).parent / "cassettes"


def register(commands: Any, command: Callable[..., argparse.ArgumentParser]) -> dict[str, Callable[..., int]]:
    """Add `eval` to the CLI's subcommands; return its handler by command name."""
    sub = commands.add_parser("eval", help="replay every past invoice with only its history and score the drafts",
                              description="Replay every past invoice with only the history before its period, "
                                          "and compare with what was billed.")
    sub.add_argument("workspace_dir", metavar="WORKSPACE", type=Path, help="workspace folder with history")
    sub.add_argument("--model", choices=("offline", "claude"), default="offline",
                     help="offline: the offline agent's engine path; claude: the graph with Claude, replayed from "
                          "cassettes (recorded for real when ANTHROPIC_API_KEY is set)")
    sub.add_argument("--cassettes", type=Path, default=None, help="cassette file for --model claude")
    sub.add_argument("--json", dest="json_out", type=Path, default=None, metavar="OUT", help="write the results")
    return {"eval": run}


def run(args: argparse.Namespace) -> int:
    drafter: Drafter = engine_drafter
    if args.model == "claude":
        from evals.agent_path import agent_drafter
        from evals.cassettes import cassette_model

        path = args.cassettes or DEFAULT_CASSETTES / f"{Path(args.workspace_dir).resolve().name}.json"
        drafter = agent_drafter(cassette_model(path))
    result = evaluate(args.workspace_dir, drafter, model=args.model)
    print(render(result))
    if args.json_out is not None:
        print(f"\nwrote {write_json(result, args.json_out)}")
    return 0
