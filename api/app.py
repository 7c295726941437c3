"""The HTTP API: `create_app()` builds it; `invoice-agent serve` runs it with uvicorn.

    app = create_app()              # settings from the environment (api.settings.get_settings)
    app = create_app(settings, model=ScriptedModel(...))   # tests

Routes (every one but /health needs a bearer token; see api.auth):

    POST /runs                           queue drafting (workers draft); 202 with the jobs and their run ids
    GET  /runs/{id}                      status, draft version, decision, invoice, audit log
    GET  /jobs/{id}                      a queued run: queued, running, done or failed, and its run id
    POST /runs/{id}/resume               finish a run that stopped after its decision
    GET  /approvals                      drafts waiting, oldest first
    POST /approvals/{id}/approve         (approver) number, push and send the invoice
    POST /approvals/{id}/request-changes (approver) drop / re-categorize / rename; the draft waits again
    POST /approvals/{id}/reject          (approver) with a reason
    GET  /drafts/{id}                    lines with their entries, anomalies, totals
    GET  /invoices, /invoices/{id}, /invoices/{id}/pdf
    GET  /payments, /payments/queue, /payments/{id}; POST /payments/{id}/resolve, /ignore
    GET  /collections/reminders, /collections/escalations, /metrics/ar
    GET  /health, /me
    POST /webhooks/asana, /webhooks/clickup, /webhooks/jira, /webhooks/stripe   (signed, no token)
    GET  /review, /review/{id}; POST /review/{id}/approve, ...   the review pages (HTML; session cookie)

The review pages (`api.routers.review`, sign-in and CSRF in `api.sessions`) are where the link in the
notifications lands (`Settings.review_url`); `review.install` adds them beside ROUTERS, out of the
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent.model import Model
from api import limits
from api.background import RunService
from api.errors import install_error_handlers
from api.notify import Notifier
from api.routers import (
    approvals,
    ask,
    collections,
    drafts,
    invoices,
    jobs,
    meta,
    metrics,
    review,
    runs,
    stripe_webhook,
    webhooks,
)
from api.scheduler import Ticker
from api.sessions import keep_in_store
from api.settings import Settings, get_settings
from graph.collections import run_tick
from tools.connectors.ledger import Ledger

__all__ = ["ROUTERS", "create_app"]

ROUTERS = (runs.router, jobs.router, ask.router, approvals.router, drafts.router, invoices.router, collections.router,
           metrics.router, meta.router)
"""Every router of the API, in the order of the document (tests fuzz each route of each)."""

SIGNED_ROUTERS = (webhooks.router, stripe_webhook.router)
"""Webhooks from Asana, ClickUp, Jira and Stripe: no token, each request is authenticated by the sender's
signature. Kept out of the OpenAPI document (they answer to the senders' own contracts)."""


def create_app(settings: Settings | None = None, *, model: Model | None = None, ledger: Ledger | None = None,
               notifier: Notifier | None = None) -> FastAPI:
    """The API over `settings` (default: the environment's); the store is migrated here, before any request."""
    service = RunService(settings or get_settings(), model=model, ledger=ledger, notifier=notifier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.workers.start()  # this server's workers take queued runs (its own and other servers')
        ticker = None
        if service.settings.tick_every > 0:
            ticker = Ticker(lambda: run_tick(service.settings), service.settings.tick_every)
            ticker.start()
        yield
        if ticker is not None:
            ticker.stop()
        service.close()

    app = FastAPI(
        title="invoice-agent",
        version="0.1.0",
        summary="Draft invoices from approved time; a person approves each before it is sent.",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    for router in SIGNED_ROUTERS:
        app.include_router(router, include_in_schema=False)
    review.install(app)  # the review pages (HTML): outside ROUTERS and the OpenAPI document
    keep_in_store(app, service.tokens)  # review sessions kept in the store: signing out ends them (api.sessions)
    limits.install(app, service.settings)  # body size and failed authentications (api.limits): outermost
    return app
