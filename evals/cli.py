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

from agent.model import Model
from evals.cassettes import MissingRecording
from evals.report import evaluate, render, write_json
from evals.reviews import evaluate_reviews, render_reviews

DEFAULT_CASSETTES = Path(__file__).parent / "cassettes"


def register(commands: Any, command: Callable[..., argparse.ArgumentParser]) -> dict[str, Callable[..., int]]:
    """Add `eval` to the CLI's subcommands; return its handler by command name."""
    sub = commands.add_parser("eval", help="replay every past invoice with only its history and score the drafts",
                              description="Replay every past invoice with only the history before its period, "
                                          "and compare with what was billed.")
    sub.add_argument("workspace_dir", metavar="WORKSPACE", type=Path, nargs="?", default=None,
                     help="workspace folder with history (optional with --drift: every bundled drift workspace)")
    sub.add_argument("--model", choices=("offline", "claude"), default="offline",
                     help="who reviews each replayed draft: the offline review, or Claude replayed from cassettes "
                          "keyed by model id (recorded for real when ANTHROPIC_API_KEY is set)")
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
    model: Model | None = None
    if args.model == "claude":
        model = _claude(args)
        if model is None:
            return 2
    result = evaluate(args.workspace_dir, model=args.model)  # the graph drafts exactly the engine's drafts
    try:
        result["reviews"] = evaluate_reviews(args.workspace_dir, model)
    except MissingRecording as exc:
        print(f"invoice-agent eval --model claude: {exc}", file=sys.stderr)
        return 2
    print(render(result))
    print("\n" + render_reviews(result["reviews"]))
    if args.json_out is not None:
        print(f"\nwrote {write_json(result, args.json_out)}")
    return 0


def _claude(args: argparse.Namespace) -> Model | None:
    """Claude behind cassettes: recording with ANTHROPIC_API_KEY, else replaying what was recorded for the
    configured model id; None (with the reason on stderr) when there is neither a key nor a recording."""
    from evals.cassettes import cassette_model

    path = args.cassettes or DEFAULT_CASSETTES / f"{Path(args.workspace_dir).resolve().name}.json"
    model = cassette_model(path)
    if model.live is None and not model.turns:
        print(f"invoice-agent eval --model claude: ANTHROPIC_API_KEY is not set and {path} holds no recordings "
              f"(for any model; this run would need {model.name}); set the key to record them, or use "
              "--model offline", file=sys.stderr)
        return None
    return model


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
