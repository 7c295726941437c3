"""What every `invoice-agent` command module shares: argument types and the settings a command runs with."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date

from api.settings import Settings

Command = Callable[..., argparse.ArgumentParser]
"""api.cli's helper that adds a subcommand with the common --workspace/--data options."""


def iso_date(text: str) -> date:
    """An argparse type: a YYYY-MM-DD date, or a usage error that says so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def settings_of(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command's --workspace, --data and --as given on top."""
    overrides: dict[str, object] = {}
    if getattr(args, "workspace", None) is not None:
        overrides["workspace"] = args.workspace
    if getattr(args, "data", None) is not None:
        overrides["data_dir"] = args.data
    if getattr(args, "actor", None):
        overrides["actor"] = args.actor
    return Settings().model_copy(update=overrides)
