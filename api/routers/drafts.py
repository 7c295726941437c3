"""Drafts: what a run proposes to invoice, line by line, with the entries and anomalies behind it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import DraftPublic, RunId
from api.views import draft_view

router = APIRouter(prefix="/drafts", tags=["drafts"])


@router.get("/{run_id}", response_model=DraftPublic, responses=responses(401, 404, 422))
def read_draft(
    run_id: Annotated[RunId, Path(description="the run that drafted it")],
    token: CurrentToken,
    service: ServiceDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="default: the latest")] = None,
) -> DraftPublic:
    """The run's draft: lines with the entries behind each, anomalies explained, exclusions, totals."""
    return draft_view(service, run_id, version)
