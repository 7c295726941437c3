"""Bundled eval workspaces besides the Parallax demo, each written by its own seeded generator.

`python -m evals.workspaces.make_lawfirm` regenerates `evals/workspaces/lawfirm/`.
"""

from pathlib import Path

WORKSPACES_DIR = Path(__file__).resolve().parent
LAWFIRM_DIR = WORKSPACES_DIR / "lawfirm"

__all__ = ["LAWFIRM_DIR", "WORKSPACES_DIR"]
