"""How errors become HTTP answers: one JSON shape (`ErrorPublic`), a status per kind of error.

    400 bad_request    a body that is not JSON
    401 unauthorized   no token, or an unknown or revoked one          (api.auth)
    403 forbidden      a viewer token asked to start or decide
    404 not_found      no such run, job, draft or invoice              RecordNotFoundError
    409 conflict       the run is not waiting for a decision (already  RunNotWaitingError,
                       decided, still drafting, finished)              InvalidTransitionError, AlreadyBilledError
    422 unprocessable  a malformed request (`errors` lists each        RequestValidationError,
                       problem), or one that cannot be satisfied (an   DomainError
                       unknown client, edits naming nothing in the draft)
    502 interrupted    a step of the run failed (the ledger, the       RunInterruptedError, and any
                       email): what was decided is recorded; resume    other InvoiceAgentError
                       the run (POST /runs/{id}/resume)
    503 unavailable    resume slots busy, database down, workspace     BusyError, DatabaseUnavailableError,
                       broken (a new run is queued, never refused)     WorkspaceError
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.background import BusyError
from api.schemas import ErrorPublic, FieldErrorPublic
from graph.runs import RunInterruptedError, RunNotWaitingError
from tools.errors import DomainError, InvoiceAgentError, WorkspaceError
from tools.store import AlreadyBilledError, DatabaseUnavailableError, InvalidTransitionError, RecordNotFoundError

__all__ = ["CODES", "install_error_handlers", "responses"]

log = logging.getLogger(__name__)

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "content_too_large", 422: "unprocessable", 429: "too_many_requests", 500: "internal",
         502: "interrupted", 503: "unavailable"}

# Most specific first: RunNotWaitingError and RunInterruptedError are DomainErrors too.
_STATUS: list[tuple[type[InvoiceAgentError], int]] = [
    (RecordNotFoundError, 404),
    (RunNotWaitingError, 409),
    (InvalidTransitionError, 409),
    (AlreadyBilledError, 409),
    (RunInterruptedError, 502),
    (DomainError, 422),
    (BusyError, 503),
    (DatabaseUnavailableError, 503),
    (WorkspaceError, 503),
]

_DESCRIPTIONS = {
    400: "The body is not JSON",
    401: "No token, or an unknown or revoked one",
    403: "The token's role does not allow this",
    404: "Not found",
    409: "The run is not in a state that allows this",
    413: "The body is larger than the server accepts (INVOICE_AGENT_MAX_BODY_BYTES)",
    422: "The request is malformed (`errors` says where) or cannot be satisfied as it stands",
    429: "Too many failed authentications from this address: wait as Retry-After says",
    502: "A step of the run failed (ledger, email, model); what was decided is recorded: resume the run",
    503: "The server cannot do this now (busy, or its database or workspace is unavailable)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry for a route's error statuses."""
    return {code: {"model": ErrorPublic, "description": _DESCRIPTIONS[code]} for code in statuses}


def _answer(code: int, detail: str, headers: dict[str, str] | None = None,
            errors: list[FieldErrorPublic] | None = None) -> JSONResponse:
    body = ErrorPublic(error=CODES.get(code, "error"), detail=detail, errors=errors)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _answer(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldErrorPublic(loc=[str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                                   msg=str(e.get("msg", "")), type=str(e.get("type", "")))
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors) or "malformed request"
        return _answer(422, detail, errors=errors)

    @app.exception_handler(InvoiceAgentError)
    async def domain_error(request: Request, exc: InvoiceAgentError) -> JSONResponse:
        code = next((code for kind, code in _STATUS if isinstance(exc, kind)), 502)
        if code >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _answer(code, str(exc), {"Retry-After": "30"} if isinstance(exc, BusyError) else None)
