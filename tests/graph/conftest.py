"""Runs on the tiny workspace with a real store, checkpointer and local ledger in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import open_runs
from graph.runs import InvoiceRuns

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
AS_OF = date(2026, 4, 1)

OpenRuns = Callable[..., AbstractContextManager[InvoiceRuns]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=TINY, data_dir=tmp_path / "data", anthropic_api_key=None)


@pytest.fixture
def runs_on(settings: Settings) -> OpenRuns:
    """Open runs on the test's data folder; each call is like a new process on the same state."""

    def opener(**overrides: Any) -> AbstractContextManager[InvoiceRuns]:
        return open_runs(settings, as_of=AS_OF, **overrides)

    return opener


@pytest.fixture
def runs(runs_on: OpenRuns) -> Iterator[InvoiceRuns]:
    with runs_on() as opened:
        yield opened
