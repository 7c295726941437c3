"""One real invoice document, from the tiny workspace's March draft for Acme."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tools.domain import Workspace
from tools.drafts import Draft, Period, draft_invoice
from tools.invoices import InvoiceDocument, from_draft
from tools.workspace import load_workspace

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
NUMBER = "TS-2026-0042"


@pytest.fixture(scope="session")
def tiny() -> Workspace:
    return load_workspace(TINY)


@pytest.fixture(scope="session")
def acme_draft(tiny: Workspace) -> Draft:
    return draft_invoice(tiny, "acme", Period.month(2026, 3), as_of=date(2026, 4, 1))


@pytest.fixture(scope="session")
def doc(acme_draft: Draft, tiny: Workspace) -> InvoiceDocument:
    return from_draft(acme_draft, NUMBER, tiny)
