"""The review page: from the Slack or email link to a decided draft, in the browser.

    GET  /review/login                  the sign-in form: paste a token once
    POST /review/login                  check it, set the session cookie, go on to where the link pointed
    POST /review/logout
    GET  /review                        the inbox: drafts waiting for a decision, oldest first
    GET  /review/{run_id}               one draft: its lines (each opens to its entries), held and flagged
                                        entries with why, the totals; the decision forms for approvers
    POST /review/{run_id}/approve | /request-changes | /reject
    GET  /review/{run_id}/invoice.pdf   the invoice, once there is one
    GET  /review/static/review.css

Server-rendered with Jinja2 and no JavaScript: a line opens with <details>, a decision is a plain form.
Sessions and CSRF tokens are `api.sessions`. Each decision calls the route of POST /approvals/... itself,
so who is recorded (the token's label), the audit log and "already decided" (409, nothing pushed twice)
are exactly the API's. The pages are not part of the JSON API: `install` adds them to the app beside
`api.app.ROUTERS`, and they stay out of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.auth import SESSION_COOKIE, require_role
from api.background import RunService
from api.deps import ServiceDep
from api.routers import approvals, invoices
from api.schemas import ChangesCreate, DraftPublic, EntryPublic, RejectCreate
from api.sessions import SIGN_IN_MAX_AGE, Session, Sessions
from api.views import draft_view, inbox_view, run_view
from graph.runs import RunInterruptedError, RunNotWaitingError
from tools.errors import DomainError, InvoiceAgentError
from tools.money import format_money, format_quantity
from tools.store import AlreadyBilledError, InvalidTransitionError, RecordNotFoundError
from tools.store.tokens import ApiTokenRecord

__all__ = ["PREFIX", "install", "router"]

PREFIX = "/review"
SIGN_IN_COOKIE = "invoice_agent_sign_in"
TEMPLATES = Path(__file__).parents[1] / "templates"

HEADERS = {
    # No script runs on these pages, nothing is framed (an Approve button must not be clickjacked), and
    # forms only post back here.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

DONE = {
    "approved": "Approved: the invoice was numbered, pushed to the ledger and sent.",
    "changes_requested": "Changes requested: the draft was recomputed and waits for a decision again.",
    "rejected": "Rejected: nothing will be invoiced for this draft.",
}
"""What the page says after the redirect that follows each decision (?done=...)."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

T = TypeVar("T")


def _money(value: Decimal) -> str:
    return format_money(value)


def _hours(value: Decimal | None) -> str:
    return "" if value is None else format_quantity(value)


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters.update(money=_money, hours=_hours, when=_when)


# --- signing in -----------------------------------------------------------------------------------------


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in form, and back to `then` after."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


class PageError(Exception):
    """A page that cannot be shown: answered with a short page that says why, with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reviewer:
    """Who is signed in, and the CSRF token their forms carry."""

    token: ApiTokenRecord
    session: Session
    csrf: str


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.review_sessions
    return sessions


def signed_in(request: Request, service: ServiceDep) -> Reviewer:
    sessions = _sessions(request)
    session = sessions.open(request.cookies.get(SESSION_COOKIE))
    token = _live_token(service, session.token_id) if session else None
    if session is None or token is None:
        # After a form posted with a lapsed session, come back to the draft rather than to the form's action.
        path = request.url.path
        raise SignInRequired(path.rsplit("/", 1)[0] if request.method == "POST" else path)
    return Reviewer(token, session, sessions.csrf(session))


ReviewerDep = Annotated[Reviewer, Depends(signed_in)]


async def checked_form(request: Request, reviewer: ReviewerDep) -> FormData:
    """The posted form, if it carries the session's CSRF token: any other is refused (403)."""
    form = await request.form()
    if not _sessions(request).csrf_ok(reviewer.session, form.get("csrf_token")):
        raise PageError(403, "This form did not come from this page (or is from an earlier sign-in): nothing was "
                             "done. Open the draft again and decide from there.")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def _live_token(service: RunService, token_id: str) -> ApiTokenRecord | None:
    return next((t for t in service.tokens.list() if t.id == token_id and t.revoked_at is None), None)


def _then(path: str | None) -> str:
    """Where to go after signing in: a review page only, so the form cannot be used to send people elsewhere."""
    if path and (path == PREFIX or path.startswith(PREFIX + "/")) and "//" not in path and "\\" not in path:
        return path
    return PREFIX


def _secure(request: Request, service: RunService) -> bool:
    """Cookies are Secure when the pages are reached over https (directly, or behind a proxy: public_url)."""
    return request.url.scheme == "https" or service.settings.public_url.startswith("https://")


@router.get("/login")
def sign_in_form(request: Request, service: ServiceDep,
                 then: Annotated[str, Query(alias="next")] = PREFIX) -> Response:
    return _sign_in_page(request, service, _then(then))


@router.post("/login")
def sign_in(
    request: Request,
    service: ServiceDep,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    then: Annotated[str, Form(alias="next")] = PREFIX,
) -> Response:
    sessions = _sessions(request)
    then = _then(then)
    if not sessions.sign_in_ok(request.cookies.get(SIGN_IN_COOKIE), csrf_token):
        return _sign_in_page(request, service, then, status=403,
                             message="This sign-in form has expired or did not come from this site: try again.")
    record = service.tokens.authenticate(token.strip()) if token.strip() else None
    if record is None:
        return _sign_in_page(request, service, then, status=401,
                             message="That token is unknown or was revoked. Ask an administrator for one "
                                     "('invoice-agent token create --role approver').")
    response = RedirectResponse(then, status_code=303)
    response.set_cookie(SESSION_COOKIE, sessions.issue(record.id), max_age=sessions.max_age, path=PREFIX,
                        httponly=True, samesite="lax", secure=_secure(request, service))
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX + "/login")
    return response


@router.post("/logout")
def sign_out(request: Request, form: FormDep, service: ServiceDep) -> Response:
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="lax",
                           secure=_secure(request, service))
    return response


def _sign_in_page(request: Request, service: RunService, then: str, *, status: int = 200,
                  message: str | None = None) -> Response:
    sessions = _sessions(request)
    nonce = sessions.sign_in_nonce()
    response = _page(request, "login.html", status=status, then=then, message=message,
                     csrf=sessions.sign_in_csrf(nonce))
    response.set_cookie(SIGN_IN_COOKIE, nonce, max_age=SIGN_IN_MAX_AGE, path=PREFIX + "/login", httponly=True,
                        samesite="strict", secure=_secure(request, service))
    return response


# --- the pages ------------------------------------------------------------------------------------------


@router.get("/static/review.css")
def stylesheet() -> FileResponse:
    return FileResponse(TEMPLATES / "review.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})


@router.get("")
def inbox(request: Request, reviewer: ReviewerDep, service: ServiceDep) -> Response:
    """The drafts waiting for a decision, oldest request first (as GET /approvals)."""
    pending = [inbox_view(service, approval) for approval in service.store.list_pending(service.workspace_root)]
    return _page(request, "inbox.html", reviewer=reviewer, pending=pending)


@router.get("/{run_id}")
def review_draft(request: Request, run_id: str, reviewer: ReviewerDep, service: ServiceDep,
                 done: str | None = None) -> Response:
    return _draft_page(request, service, reviewer, run_id, notice=DONE.get(done or ""))


@router.get("/{run_id}/invoice.pdf")
def invoice_pdf(run_id: str, reviewer: ReviewerDep, service: ServiceDep) -> Response:
    _found(lambda: service.run(run_id))
    invoice = service.store.invoice_for_run(run_id)
    if invoice is None:
        raise PageError(404, f"Run {run_id} has no invoice (yet).")
    return invoices.invoice_pdf(invoice.id, reviewer.token, service)


# --- deciding -------------------------------------------------------------------------------------------


@router.post("/{run_id}/approve")
def approve(request: Request, run_id: str, reviewer: ReviewerDep, form: FormDep, service: ServiceDep) -> Response:
    return _decide(request, service, reviewer, run_id, "approved",
                   lambda token: approvals.approve(run_id, token, service))


@router.post("/{run_id}/request-changes")
def request_changes(request: Request, run_id: str, reviewer: ReviewerDep, form: FormDep,
                    service: ServiceDep) -> Response:
    def decide(token: ApiTokenRecord) -> object:
        return approvals.request_changes(run_id, _changes(form), token, service)

    return _decide(request, service, reviewer, run_id, "changes_requested", decide)


@router.post("/{run_id}/reject")
def reject(request: Request, run_id: str, reviewer: ReviewerDep, form: FormDep, service: ServiceDep) -> Response:
    def decide(token: ApiTokenRecord) -> object:
        reason = form.get("reason")
        return approvals.reject(run_id, RejectCreate(reason=reason if isinstance(reason, str) else ""), token,
                                service)

    return _decide(request, service, reviewer, run_id, "rejected", decide)


def _changes(form: FormData) -> ChangesCreate:
    """The edits of the request-changes form: entries ticked to drop, categories picked, lines renamed.

    A select left at "keep" or a rename left blank (or unchanged) is no change.
    """
    texts = [(key, value.strip()) for key, value in form.multi_items() if isinstance(value, str)]
    reason = next((value for key, value in texts if key == "reason"), "")
    return ChangesCreate(
        drop=[value for key, value in texts if key == "drop" and value],
        categories={key.removeprefix("category:"): value for key, value in texts
                    if key.startswith("category:") and value},
        descriptions={key.removeprefix("rename:"): value for key, value in texts
                      if key.startswith("rename:") and value and value != key.removeprefix("rename:")},
        reason=reason,
    )


def _decide(request: Request, service: RunService, reviewer: Reviewer, run_id: str, done: str,
            decide: Callable[[ApiTokenRecord], object]) -> Response:
    """Take the decision as the API would; on success go to the draft (post/redirect/get), else say why there."""
    try:
        decide(require_role(reviewer.token, "approver", "deciding on a draft"))
    except HTTPException as exc:
        return _draft_page(request, service, reviewer, run_id, status=exc.status_code, problem=str(exc.detail))
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        if done == "rejected":
            problem = "A rejection needs a reason: say why, for the audit log and the team."
        return _draft_page(request, service, reviewer, run_id, status=422, problem=problem)
    except RecordNotFoundError as exc:
        raise PageError(404, str(exc)) from exc
    except InvoiceAgentError as exc:
        status, problem = _explained(exc)
        return _draft_page(request, service, reviewer, run_id, status=status, problem=problem)
    return RedirectResponse(f"{PREFIX}/{quote(run_id)}?done={done}", status_code=303)


def _explained(exc: InvoiceAgentError) -> tuple[int, str]:
    """The status and the sentence for a decision that did not go through (the statuses of api.errors)."""
    if isinstance(exc, RunNotWaitingError | InvalidTransitionError | AlreadyBilledError):
        return 409, f"Nothing was done: this draft is not waiting for a decision (already decided?): {exc}."
    if isinstance(exc, RunInterruptedError):
        return 502, (f"The decision is recorded but a step after it failed: {exc}. Resume the run "
                     "('invoice-agent resume' or POST /runs/{id}/resume).")
    if isinstance(exc, DomainError):
        return 422, f"Nothing was done: {exc}."
    return 503, f"Nothing was done, the server could not do it now: {exc}."


# --- rendering ------------------------------------------------------------------------------------------


def _page(request: Request, template: str, *, status: int = 200, reviewer: Reviewer | None = None,
          **context: Any) -> Response:
    if reviewer is not None:
        context.update(who=reviewer.token, csrf=context.get("csrf", reviewer.csrf))
    return templates.TemplateResponse(request, template, {"prefix": PREFIX, **context}, status_code=status,
                                      headers=HEADERS)


def _found(read: Callable[[], T]) -> T:
    try:
        return read()
    except RecordNotFoundError as exc:
        raise PageError(404, f"There is no such run here: {exc}.") from exc


def _draft_page(request: Request, service: RunService, reviewer: Reviewer, run_id: str, *, status: int = 200,
                notice: str | None = None, problem: str | None = None) -> Response:
    run = _found(lambda: run_view(service, run_id))
    draft = _found(lambda: draft_view(service, run_id)) if run.draft_version is not None else None
    context: dict[str, Any] = {"run": run, "draft": draft, "notice": notice, "problem": problem,
                               "invoice": service.store.invoice_for_run(run_id)}
    if draft is not None:
        context.update(_sections(draft))
        context["categories"] = service.workspace().settings.categories
        context["deciding"] = draft.approval is not None and draft.approval.status == "pending"
    return _page(request, "draft.html", status=status, reviewer=reviewer, **context)


@dataclass(frozen=True)
class HeldEntry:
    """A held anomaly with the entry it is about, when that entry is a candidate of the draft."""

    entry_id: str
    kind: str
    message: str
    entry: EntryPublic | None


def _sections(draft: DraftPublic) -> dict[str, Any]:
    """What the draft page shows beside the lines: held entries, flags on no line, exclusions."""
    entries = {e.entry_id: e for e in draft.entries}
    on_lines = {e.entry_id for line in draft.lines for e in line.entries}
    held = [HeldEntry(a.entry_id, a.kind, a.message, entries.get(a.entry_id)) for a in draft.anomalies if a.held]
    return {
        "held": held,
        "other_flags": [a for a in draft.anomalies if not a.held and a.entry_id not in on_lines],
        "excluded": [(x, entries.get(x.entry_id)) for x in draft.excluded],
        "editable": [e for e in draft.entries if e.outcome != "excluded"],
        "flagged_count": sum(1 for a in draft.anomalies if not a.held),
    }


def install(app: FastAPI) -> None:
    """Serve the review pages from `app` (made by `api.app.create_app`, whose data folder keeps the session key)."""
    service: RunService = app.state.service
    app.state.review_sessions = Sessions.in_folder(service.settings.data_dir)
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"{PREFIX}/login?next={quote(exc.then, safe='/')}", status_code=303)

    @app.exception_handler(PageError)
    async def error_page(request: Request, exc: PageError) -> Response:
        return _page(request, "error.html", status=exc.status, message=exc.message)
