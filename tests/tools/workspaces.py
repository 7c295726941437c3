"""Editing a copy of the tiny workspace in a test, and reading the problems its loader reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.errors import WorkspaceError
from tools.workspace import load_workspace

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"


def copy_tiny(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(TINY, root, ignore=shutil.ignore_patterns("answers", "README.md"))
    return root


def problems(root: Path) -> list[str]:
    """Every problem the loader reports for `root`, as the user reads them (the load must fail)."""
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
