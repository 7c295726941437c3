"""The bundled demo: the "Parallax Creative" workspace and the seeded generator that writes it.

`python -m tools.demo.make_parallax` regenerates `tools/demo/parallax/` (a WORKSPACE.md v1 folder with
four months of time, a task log, invoice and payment history) and `tools/demo/answers/` (the ground
truth of the current, not yet invoiced month, kept outside the workspace so it can be scored).
"""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
WORKSPACE_DIR = DEMO_DIR / "parallax"
ANSWERS_DIR = DEMO_DIR / "answers"

__all__ = ["ANSWERS_DIR", "DEMO_DIR", "WORKSPACE_DIR"]
