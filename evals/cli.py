"""`invoice-agent eval WORKSPACE [--model offline|claude] [--json OUT]`: replay the history and score it.

`invoice-agent eval --drift [WORKSPACE] [--json OUT]`: the drift report (`evals.drift`) of a drift workspace,
or of every bundled one when none is given.
"""

from __future__ import annotations

import argparse
import sys
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
    sub.add_argument("workspace_dir", metavar="WORKSPACE", type=Path, nargs="?", default=None,
                     help="workspace folder with history (optional with --drift: every bundled drift workspace)")
    sub.add_argument("--model", choices=("offline", "claude"), default="offline",
                     help="offline: the offline agent's engine path; claude: the graph with Claude, replayed from "
                          "cassettes (recorded for real when ANTHROPIC_API_KEY is set)")
    sub.add_argument("--cassettes", type=Path, default=None, help="cassette file for --model claude")
    sub.add_argument("--drift", action="store_true",
                     help="replay only the last month of a drift workspace and report accuracy by phrasing, flags "
                          "of wrong categories, silently wrong totals and vague notes")
    sub.add_argument("--json", dest="json_out", type=Path, default=None, metavar="OUT", help="write the results")
    return {"eval": run}


def run(args: argparse.Namespace) -> int:
    if args.drift:
        return run_drift(args)
    if args.workspace_dir is None:
        print("invoice-agent eval: a WORKSPACE is needed (or --drift)", file=sys.stderr)
        return 2
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


def run_drift(args: argparse.Namespace) -> int:
    from evals.drift import drift_reports
    from evals.drift import render as render_drift

    if args.model != "offline":
        print("invoice-agent eval --drift: only the offline model (no cassettes are recorded for it)", file=sys.stderr)
        return 2
    result = drift_reports([args.workspace_dir] if args.workspace_dir is not None else None)
    print(render_drift(result))
    if args.json_out is not None:
        print(f"\nwrote {write_json(result, args.json_out)}")
    return 0
