"""The server itself: is it up, and who am I."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import HealthPublic, WhoAmIPublic

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthPublic)
def health(service: ServiceDep) -> HealthPublic:
    """Up, on which workspace, with which model. Needs no token."""
    model = "claude" if service.settings.anthropic_api_key else "offline"
    return HealthPublic(status="ok", workspace=service.workspace_root, model=model)


@router.get("/me", response_model=WhoAmIPublic, responses=responses(401))
def whoami(token: CurrentToken) -> WhoAmIPublic:
    """The token this request came with: its role, and the label decisions are recorded under."""
    return WhoAmIPublic.of(token)
