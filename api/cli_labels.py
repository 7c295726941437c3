"""The labels commands of `invoice-agent`: the categories people confirmed, which later runs learn from.

    invoice-agent labels export [--out FILE]   the learned labels as entry_labels.csv (default: stdout)

A category a reviewer set (`revise --category`, the API, the review page) and the categories of an
approved invoice's entries are kept in the store (`tools.store.labels`); every run merges them into the
workspace's labels. `export` writes them in the workspace contract's entry_labels.csv form, so they can
be reviewed, or appended to the workspace's own file. `api.cli` adds the parser with `add_parsers` and
dispatches to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.cli_args import Command, settings_of
from api.settings import Settings
from tools.domain import Workspace
from tools.store import Store, with_learned_labels
from tools.store.labels import write_labels_csv
from tools.workspace import load_workspace

__all__ = ["COMMANDS", "add_parsers", "with_stored_labels"]



def add_parsers(commands: Any, command: Command) -> None:
    """Add `labels export` to the `invoice-agent` subcommands (`command` is api.cli's helper)."""
    labels = commands.add_parser("labels", help="the categories people confirmed, which later runs learn from",
                                 description="the categories people confirmed, which later runs learn from")
    actions = labels.add_subparsers(dest="labels_command", required=True)
    export = actions.add_parser("export", help="write the learned labels as entry_labels.csv",
                                description="write the learned labels as entry_labels.csv: a reviewer's "
                                            "categories, and those of approved invoices' entries")
    export.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: the bundled demo)")
    export.add_argument("--data", type=Path, default=None,
                        help="folder for runs, invoices and the outbox (default: ./invoice-agent-data)")
    export.add_argument("--out", type=Path, default=None, help="the CSV file to write (default: stdout)")


def with_stored_labels(workspace: Workspace, settings: Settings) -> Workspace:
    """The workspace with the labels learned in the settings' store; as it is when there is no store yet."""
    if settings.database_url is None and not Path(settings.store_url().removeprefix("sqlite:///")).exists():
        return workspace
    with Store(settings.store_url()) as store:
        store.migrate()
        return with_learned_labels(workspace, store.learned_labels(workspace.root))



def _labels(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    root = load_workspace(settings.workspace).root  # the workspace's key in the store
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(settings.store_url()) as store:
        store.migrate()
        learned = store.learned_labels(root)
    if args.out is None:
        write_labels_csv(learned, sys.stdout)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8", newline="") as out:
            write_labels_csv(learned, out)
    by_reviewers = sum(1 for label in learned if label.source == "reviewer")
    print(f"{len(learned)} learned label(s): {by_reviewers} set by reviewers, {len(learned) - by_reviewers} from "
          f"approved invoices" + (f"; written to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"labels": _labels}
