"""Signing in to the review pages: a session cookie that names a token without carrying it, and CSRF tokens.

    sessions = Sessions.in_folder(settings.data_dir)     # the key is made there once, then kept
    sessions = sessions.kept_in(tokens)                   # and each session in the store (keep_in_store)
    value = sessions.issue(token.id)                      # the session cookie's value
    session = sessions.open(value)                        # -> Session, or None (forged, expired, ended)
    sessions.csrf(session)                                # the hidden field every form of that session posts
    sessions.end(value)                                   # signed out: the cookie no longer opens

A person pastes their API token into the sign-in form once. The browser then keeps only
`<token id>.<issued>.<nonce>.<mac>`: an HMAC-SHA256 under a key in the data folder, so it cannot be
forged or altered, and it expires after `SESSION_MAX_AGE`. The secret itself is never stored in the
browser.

A signature alone cannot be taken back, so the app keeps each session in the store too
(`review_sessions`, `tools.store.tokens`; `keep_in_store`): a cookie opens only while its session has not
ended. Signing out ends it, so a copy of the cookie replayed afterwards is signed out; revoking the token
(`invoice-agent token revoke`) ends all of its sessions, and so does its expiry.

Forms carry a CSRF token derived from the session's nonce (a new one at every sign-in); the sign-in
form itself carries one derived from a short-lived nonce cookie, so no other site can sign a browser
in under its own token. The session cookie is SameSite=Lax, not Strict: a link clicked in Slack or an
email is a cross-site navigation, and with Strict the browser would leave the cookie off and ask the
person to sign in at every link. Lax still keeps it off cross-site POSTs, and the CSRF token refuses
any that get through.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import SESSION_COOKIE
from tools.store.tokens import ApiTokens

__all__ = ["KEY_FILE", "SESSION_MAX_AGE", "EndSessionsSignedOut", "Session", "Sessions", "keep_in_store"]

SESSION_MAX_AGE = 12 * 3600
"""Seconds a sign-in lasts: a working day, then the token is asked for again."""
SIGN_IN_MAX_AGE = 3600
"""Seconds a sign-in form stays valid."""
KEY_FILE = "review-session.key"
"""In the data folder: the key that signs sessions. Deleting it signs everyone out."""


@dataclass(frozen=True)
class Session:
    token_id: str
    issued: int
    nonce: str

    @property
    def id(self) -> str:
        """What the store keeps the session under: a hash of its nonce (the nonce derives the CSRF token)."""
        return hashlib.sha256(self.nonce.encode()).hexdigest()


@dataclass(frozen=True)
class Sessions:
    """Signs and checks session cookies and CSRF tokens with one secret key; with `kept`, keeps each session
    in the store, so that it can be ended before it expires."""

    key: bytes
    max_age: int = SESSION_MAX_AGE
    kept: ApiTokens | None = None
    """Where sessions are kept; None: a session lives as long as its signature (it cannot be ended)."""

    @classmethod
    def in_folder(cls, folder: Path) -> Sessions:
        """With the key kept in `folder` (made on first use, readable by its owner only)."""
        return cls(_load_key(folder / KEY_FILE))

    def kept_in(self, tokens: ApiTokens) -> Sessions:
        """The same sessions, each kept in the store of `tokens` from now on."""
        return replace(self, kept=tokens)

    def issue(self, token_id: str, *, now: float | None = None) -> str:
        """A new session for the token: the cookie's value."""
        issued = str(int(time.time() if now is None else now))
        nonce = secrets.token_urlsafe(16)
        body = f"{token_id}.{issued}.{nonce}"
        if self.kept is not None:
            self.kept.start_session(Session(token_id, int(issued), nonce).id, token_id,
                                    lasts=timedelta(seconds=self.max_age))
        return f"{body}.{self._mac('session', body)}"

    def open(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie holds, if this server signed it, it has not expired and (when sessions are
        kept) it has not been ended and its token is live."""
        parts = (value or "").split(".")
        if len(parts) != 4:
            return None
        token_id, issued, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac("session", f"{token_id}.{issued}.{nonce}")):
            return None
        age = (time.time() if now is None else now) - int(issued)  # signed by us, so an int
        if not 0 <= age < self.max_age:
            return None
        session = Session(token_id, int(issued), nonce)
        if self.kept is not None:
            token = self.kept.session_token(session.id)
            if token is None or token.id != token_id:
                return None
        return session

    def end(self, value: str | None) -> None:
        """Sign out the session this cookie holds: from now on the cookie does not open (when sessions are
        kept; otherwise nothing can end it before it expires)."""
        session = self.open(value)
        if session is not None and self.kept is not None:
            self.kept.end_session(session.id)

    def csrf(self, session: Session) -> str:
        """The token the session's forms post back: a forged form cannot know it."""
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given, self.csrf(session))

    @staticmethod
    def sign_in_nonce() -> str:
        """A fresh value for the sign-in form's cookie."""
        return secrets.token_urlsafe(16)

    def sign_in_csrf(self, nonce: str) -> str:
        return self._mac("sign-in", nonce)

    def sign_in_ok(self, nonce: str | None, given: object) -> bool:
        """Whether a posted sign-in form is the one this server gave the same browser."""
        return bool(nonce) and isinstance(given, str) and hmac.compare_digest(given, self.sign_in_csrf(nonce or ""))

    def _mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self.key, f"{purpose}:{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def keep_in_store(app: FastAPI, tokens: ApiTokens) -> None:
    """Keep the sessions of `app`'s review pages (`app.state.review_sessions`, from api.routers.review.install)
    in the store of `tokens`, and end a session on the server whenever the app signs a browser out of it."""
    sessions: Sessions = app.state.review_sessions
    app.state.review_sessions = sessions.kept_in(tokens)
    app.add_middleware(EndSessionsSignedOut)


class EndSessionsSignedOut:
    """ASGI middleware: when an answer clears the session cookie (signing out, after its CSRF check), the
    session the request came with is ended in the store too, so a copy of its cookie no longer opens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cookie = HTTPConnection(scope).cookies.get(SESSION_COOKIE) if scope["type"] == "http" else None
        if not cookie:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and _clears_session(message.get("headers", [])):
                sessions: Sessions = scope["app"].state.review_sessions
                await run_in_threadpool(sessions.end, cookie)
            await send(message)

        await self.app(scope, receive, watch)


_MAX_AGE_0 = re.compile(rb";\s*max-age=0\s*(;|$)", re.IGNORECASE)


def _clears_session(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an answer's headers tell the browser to drop the session cookie (Max-Age=0)."""
    prefix = f"{SESSION_COOKIE}=".encode()
    return any(name.lower() == b"set-cookie" and value.startswith(prefix) and _MAX_AGE_0.search(value) is not None
               for name, value in headers)


def _load_key(path: Path) -> bytes:
    """The key in `path`, made there if there is none; two servers starting at once end up with the same one."""
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(draft, path)  # fails if another process got there first: then its key is the key
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 32:
        raise ValueError(f"{path}: a session key must be at least 32 bytes (delete the file to make a new one)")
    return key
