"""Webhooks from the project tools: a task that completes a milestone, or moves to the invoice stage, starts
an invoice run for its client (tools.sources.triggers says exactly when).

    POST /webhooks/asana[?hook=NAME]  the X-Hook-Secret handshake (echoed back), then X-Hook-Signature deliveries
    POST /webhooks/clickup            X-Signature (INVOICE_AGENT_CLICKUP_WEBHOOK_SECRET)
    POST /webhooks/jira               X-Hub-Signature: sha256=... (INVOICE_AGENT_JIRA_WEBHOOK_SECRET)

Including it (the lead's `create_app`):

    from api.routers import webhooks
    app.include_router(webhooks.router)

The one dependency is `get_triggers`: it answers `app.state.webhook_triggers` when the app set one, else
builds (once) a `Triggers` over the app's `RunService` (`app.state.service`): its workspace, its data
folder, runs started on its background workers. Tests swap it:
`app.dependency_overrides[webhooks.get_triggers] = lambda: Triggers(...)`.

These routes take no bearer token: the senders are Asana, ClickUp and Jira, and each delivery is
authenticated by its signature. Answers: 200 with what was done (also for a replayed delivery, which is
ignored, so the sender stops retrying); 200 with `X-Hook-Secret` for Asana's handshake; 401 a missing
or wrong signature; 403 a handshake refused; 422 a body that is not the documented payload; 503 the
webhook secret is not configured, or the task cannot be read back from its source now (the sender
retries later, and the delivery is not marked as seen).
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from agent.requests import Target
from api.background import RunService
from graph.runs import RunOutcome
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.sources.errors import (
    SourceError,
    SourcePayloadError,
    WebhookError,
    WebhookSignatureError,
)
from tools.sources.settings import SourceSettings
from tools.sources.triggers import Triggers, WebhookResult

__all__ = ["ServiceStarter", "TriggersDep", "get_triggers", "router", "triggers_for_service"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class ServiceStarter:
    """Starts a triggered run on the API's background workers (it drafts there; the answer is "running")."""

    def __init__(self, service: RunService) -> None:
        self.service = service

    def start(self, client_id: str, period: Period, request: str) -> RunOutcome:
        [outcome] = self.service.start([Target(client=client_id, period=period)], request, date.today())
        return outcome


def triggers_for_service(service: RunService, settings: SourceSettings | None = None) -> Triggers:
    starter = ServiceStarter(service)
    return Triggers(service.settings.workspace, service.settings.data_dir, lambda: nullcontext(starter),
                    settings=settings)


def get_triggers(request: Request) -> Triggers:
    """The app's webhook triggers: `app.state.webhook_triggers`, else one built over `app.state.service`."""
    state = request.app.state
    triggers: Triggers | None = getattr(state, "webhook_triggers", None)
    if triggers is None:
        triggers = triggers_for_service(state.service)
        state.webhook_triggers = triggers
    return triggers


TriggersDep = Annotated[Triggers, Depends(get_triggers)]


def _answer(result: WebhookResult) -> JSONResponse:
    body: dict[str, Any] = {
        "status": result.status,
        "runs": [vars(run) for run in result.runs],
        "notes": result.notes,
    }
    headers = {"X-Hook-Secret": result.echo_secret} if result.echo_secret else None
    return JSONResponse(body, status_code=200, headers=headers)


def _refused(exc: InvoiceAgentError) -> JSONResponse:
    if isinstance(exc, WebhookSignatureError):
        code, error = 401, "unauthorized"
    elif isinstance(exc, WebhookError):
        code, error = 403, "forbidden"
    elif isinstance(exc, SourcePayloadError):
        code, error = 422, "unprocessable"
    elif isinstance(exc, SourceError):  # not configured, or the source cannot be read now: retry later
        code, error = 503, "unavailable"
    else:
        code, error = 502, "interrupted"
    return JSONResponse({"error": error, "detail": str(exc)}, status_code=code)


async def _deliver(call: Any, *args: Any) -> JSONResponse:
    try:
        result: WebhookResult = await run_in_threadpool(call, *args)
    except InvoiceAgentError as exc:
        return _refused(exc)
    return _answer(result)


@router.post("/asana", summary="Asana webhook: handshake, then signed task events")
async def asana(
    request: Request, triggers: TriggersDep,
    hook: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                               description="which webhook (its target URL's ?hook=); one secret each")] = "default",
) -> JSONResponse:
    body = await request.body()
    return await _deliver(triggers.asana, dict(request.headers), body, hook)


@router.post("/clickup", summary="ClickUp webhook: signed task events")
async def clickup(request: Request, triggers: TriggersDep) -> JSONResponse:
    body = await request.body()
    return await _deliver(triggers.clickup, dict(request.headers), body)


@router.post("/jira", summary="Jira webhook: signed issue events")
async def jira(request: Request, triggers: TriggersDep) -> JSONResponse:
    body = await request.body()
    return await _deliver(triggers.jira, dict(request.headers), body)
