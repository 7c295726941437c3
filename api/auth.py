"""Who is calling: bearer tokens, each with a role (approver or viewer) and a label.

    Authorization: Bearer iat_...        (create one: invoice-agent token create --role approver)

Viewers read everything; approvers also start runs and decide on drafts, and each decision is recorded
under the token's label. Tokens are stored hashed (`tools.store.tokens`). A missing, unknown, revoked or
expired token is answered 401, a viewer asking to decide 403, each with a body that says what to do.

Each check of a token is noted in the request's `Attempt` (when api.limits watches the request): a live
token forgives its address's failed attempts, and a 401 counts as one (see api.limits).

The review pages (api/routers/review.py) authenticate the same tokens from a cookie instead: their
sign-in form sets `SESSION_COOKIE` to a signed session naming the token's id, never the token
(HttpOnly, SameSite=Lax; kept in the store, so signing out ends it: see api.sessions), and their forms
carry a CSRF token. The JSON API never reads the cookie, so cross-site requests cannot ride on it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from fastapi import HTTPException, status
from fastapi.security import HTTPBearer

from tools.store.tokens import ApiTokenRecord, ApiTokens, Role

__all__ = ["ATTEMPT", "SESSION_COOKIE", "Attempt", "authenticate", "bearer_scheme", "require_role"]

SESSION_COOKIE = "invoice_agent_session"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A token from `invoice-agent token create --role approver|viewer`, sent as "
                "`Authorization: Bearer <token>`.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="invoice-agent"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="invoice-agent", error="invalid_token"'}


@dataclass
class Attempt:
    """What the token checks of one request found: `authenticated` once a live token was presented."""

    authenticated: bool = False


ATTEMPT: ContextVar[Attempt | None] = ContextVar("invoice_agent_auth_attempt", default=None)
"""The request's attempt, set by api.limits around each request that presents a token."""


def authenticate(tokens: ApiTokens, secret: str | None) -> ApiTokenRecord:
    """The live token with this secret, or a 401 that says what to send."""
    if not secret:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "no token: send 'Authorization: Bearer <token>'; an administrator creates one with "
            "'invoice-agent token create --role viewer' (or --role approver to decide on drafts)",
            headers=_CHALLENGE,
        )
    token = tokens.find(secret)
    if token is None or token.revoked_at is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this token is unknown or was revoked: ask an administrator for a new one "
            "('invoice-agent token create')",
            headers=_INVALID,
        )
    if not tokens.live(token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC, create a new one with "
            "'invoice-agent token create'",
            headers={"WWW-Authenticate": 'Bearer realm="invoice-agent", error="invalid_token", '
                                         'error_description="the token expired"'},
        )
    if (attempt := ATTEMPT.get()) is not None:
        attempt.authenticated = True
    return token


def require_role(token: ApiTokenRecord, role: Role, doing: str) -> ApiTokenRecord:
    """The token if it has `role` (approvers may do all a viewer may), else a 403 naming what is missing."""
    if role == "approver" and token.role != "approver":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"token {token.label!r} is a {token.role} token: {doing} needs an approver token "
            "('invoice-agent token create --role approver')",
        )
    return token
