"""Jobs: the runs POST /runs queued, as workers take them; a queued job's run id appears here first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import JobPublic, ResourceId

router = APIRouter(prefix="/jobs", tags=["runs"])

JobPath = Annotated[ResourceId, Path(description="the job's id, as POST /runs gave it")]


@router.get("/{job_id}", response_model=JobPublic, responses=responses(401, 404, 422))
def read_job(job_id: JobPath, token: CurrentToken, service: ServiceDep) -> JobPublic:
    """Where a queued run is: queued, running (with its run id once recorded), done or failed."""
    return JobPublic.model_validate(service.job(job_id))
