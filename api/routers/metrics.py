"""Receivables metrics: GET /metrics/ar (DSO, invoices sent and paid on time, aging, usual days to pay).

Computed on each request from the workspace's invoices (invoices.csv and the store) and the payments
collections recorded (`tools.receivables.ar_report`). Money is decimal strings, per currency: amounts in
different currencies are never added up.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.routers.collections import strict_query
from tools.receivables import ArReport, ar_report
from tools.store.collections import Collections

router = APIRouter(prefix="/metrics", tags=["metrics"], dependencies=[Depends(strict_query)])

Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]
"""A day the receivables are measured on; outside these years no invoice can be open."""


class ArPublic(ArReport):
    """Receivables as of a day: totals and aging per currency, per client, the on-time shares, each invoice."""


@router.get("/ar", response_model=ArPublic, responses=responses(401, 422))
def receivables(
    token: CurrentToken,
    service: ServiceDep,
    as_of: Annotated[Day | None, Query(description="measure on this day (default: today)")] = None,
    window_days: Annotated[int, Query(ge=1, le=3650, description="DSO's window of invoicing, in days")] = 90,
    send_within_days: Annotated[int, Query(ge=0, le=365, description="sent on time: within this many days "
                                                                     "of the period's end")] = 3,
    invoices: Annotated[bool, Query(description="list each invoice too")] = True,
) -> ArPublic:
    """DSO, share sent on time, share paid on time, aging buckets per client and in total, usual days to pay."""
    book = Collections(service.store).book(service.workspace())
    report = ar_report(book, as_of or date.today(), window_days=window_days, send_within_days=send_within_days)
    data = report.model_dump()
    if not invoices:
        data["invoices"] = []
    return ArPublic.model_validate(data)
