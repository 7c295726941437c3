"""Runs: queue them (workers draft them in the background), see where one is, resume one that stopped half-way."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.deps import Approver, CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import RunCreate, RunForClient, RunId, RunPublic, RunsStartedPublic, RunStartedPublic
from api.views import run_view
from tools.errors import InvalidPeriodError
from tools.periods import Period

router = APIRouter(prefix="/runs", tags=["runs"])

RunPath = Annotated[RunId, Path(description="the run's id, as POST /runs gave it")]


def _period(text: str) -> Period:
    period = Period.parse(text)
    if not (period.start.year >= 2000 and period.end.year <= 2099):
        raise InvalidPeriodError(text)
    return period


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunsStartedPublic,
    responses={200: {"model": RunsStartedPublic, "description": "Nothing was started: `question` says what to "
                     "make clear"}, **responses(400, 401, 403, 422, 503)},
)
def create_run(body: RunCreate, token: Approver, service: ServiceDep, response: Response) -> RunsStartedPublic:
    """Queue drafting: 202 with a run per client, each drafted in the background by a worker (poll
    GET /runs/{run_id}; while every worker is busy the entry is `queued`: poll GET /jobs/{job_id} for its run).

    A request in words may name several clients, or be unclear: then nothing is queued and the answer (200)
    carries the question to answer. A client and period already drafted, invoiced or being drafted is not
    drafted again: its entry says `exists` and gives the run that has it.
    """
    as_of = body.as_of or date.today()
    assumptions: list[str] = []
    if isinstance(body, RunForClient):
        targets = [service.target(body.client, _period(body.period))]
        request = f"invoice {body.client} for {body.period}"
    else:
        resolution = service.resolve(body.text, as_of)
        if resolution.question:
            response.status_code = status.HTTP_200_OK
            return RunsStartedPublic(data=[], count=0, question=resolution.question,
                                     assumptions=resolution.assumptions)
        targets, request, assumptions = resolution.targets, body.text, resolution.assumptions
    queued = service.queue(targets, request, as_of, requested_by=token.label)  # the worker records "requested"
    started = [RunStartedPublic(job_id=q.job.id, **q.outcome.model_dump(include={"run_id", "client", "period",
                                                                                   "status", "message"}))
               for q in queued]
    return RunsStartedPublic(data=started, count=len(started), assumptions=assumptions)


@router.get("/{run_id}", response_model=RunPublic, responses=responses(401, 404, 422))
def read_run(run_id: RunPath, token: CurrentToken, service: ServiceDep) -> RunPublic:
    """Where the run is (status), its draft version, the decision on it, its invoice, and its audit log."""
    return run_view(service, run_id)


@router.post(
    "/{run_id}/resume",
    response_model=RunPublic,
    responses={202: {"model": RunPublic, "description": "Resumed, and still going: poll GET /runs/{run_id}"},
               **responses(401, 403, 404, 409, 422, 502, 503)},
)
def resume_run(run_id: RunPath, token: Approver, service: ServiceDep, response: Response) -> RunPublic:
    """Finish a run that stopped half-way (a model outage while drafting; a ledger or mail failure after the
    decision): finished steps are not repeated. 200 with the run once done, 202 if it is still going."""
    outcome = service.resume(run_id)
    service.store.record_decision(run_id, "resumed", token.label, {"finished": outcome is not None})
    if outcome is None:
        response.status_code = status.HTTP_202_ACCEPTED
    return run_view(service, run_id)
