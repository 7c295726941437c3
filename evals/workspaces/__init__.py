"""Bundled eval workspaces besides the Parallax demo, each written by its own seeded generator.

`python -m evals.workspaces.make_lawfirm` regenerates `evals/workspaces/lawfirm/`;
`python -m evals.workspaces.make_drift` regenerates the drift workspaces (`DRIFT_DIRS`): history in one
phrasing, a last month partly in another, for `evals.drift`.
"""

from pathlib import Path

WORKSPACES_DIR = Path(__file__).resolve().parent
LAWFIRM_DIR = WORKSPACES_DIR / "lawfirm"
DRIFT_DIRS = {"drift_agency": WORKSPACES_DIR / "drift_agency", "drift_law": WORKSPACES_DIR / "drift_law"}

__all__ = ["DRIFT_DIRS", "LAWFIRM_DIR", "WORKSPACES_DIR"]
