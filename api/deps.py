"""What routes depend on, as `Annotated` aliases: the run service, the store, and who is calling.

Tests swap any of them with `app.dependency_overrides[get_service] = ...`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from api.auth import authenticate, bearer_scheme, require_role
from api.background import RunService
from api.settings import Settings
from tools.store import Store
from tools.store.tokens import ApiTokenRecord


def get_service(request: Request) -> RunService:
    service: RunService = request.app.state.service
    return service


ServiceDep = Annotated[RunService, Depends(get_service)]


def get_store(service: ServiceDep) -> Store:
    return service.store


StoreDep = Annotated[Store, Depends(get_store)]


def get_app_settings(service: ServiceDep) -> Settings:
    return service.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def current_token(
    service: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> ApiTokenRecord:
    return authenticate(service.tokens, credentials.credentials if credentials else None)


CurrentToken = Annotated[ApiTokenRecord, Depends(current_token)]
"""Any live token: viewers and approvers."""


def approver_token(request: Request, token: CurrentToken) -> ApiTokenRecord:
    return require_role(token, "approver", f"{request.method} {request.url.path}")


Approver = Annotated[ApiTokenRecord, Depends(approver_token)]
"""An approver's token: its label is who the decision is recorded under."""

