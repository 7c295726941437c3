"""Signing in to the review pages: a session cookie that names a token without carrying it, and CSRF tokens.

    sessions = Sessions.in_folder(settings.data_dir)     # the key is made there once, then kept
    value = sessions.issue(token.id)                      # the session cookie's value
    session = sessions.open(value)                        # -> Session, or None (forged, garbled, expired)
    sessions.csrf(session)                                # the hidden field every form of that session posts

A person pastes their API token into the sign-in form once. The browser then keeps only
`<token id>.<issued>.<nonce>.<mac>`: an HMAC-SHA256 under a key in the data folder, so it cannot be
forged or altered, and it expires after `SESSION_MAX_AGE`. The pages look the token id up in the token
store on every request, so revoking the token (`invoice-agent token revoke`) ends its sessions at once;
the secret itself is never stored in the browser.

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
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KEY_FILE", "SESSION_MAX_AGE", "Session", "Sessions"]

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


@dataclass(frozen=True)
class Sessions:
    """Signs and checks session cookies and CSRF tokens with one secret key."""

    key: bytes
    max_age: int = SESSION_MAX_AGE

    @classmethod
    def in_folder(cls, folder: Path) -> Sessions:
        """With the key kept in `folder` (made on first use, readable by its owner only)."""
        return cls(_load_key(folder / KEY_FILE))

    def issue(self, token_id: str, *, now: float | None = None) -> str:
        """A new session for the token: the cookie's value."""
        issued = str(int(time.time() if now is None else now))
        nonce = secrets.token_urlsafe(16)
        body = f"{token_id}.{issued}.{nonce}"
        return f"{body}.{self._mac('session', body)}"

    def open(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie holds, if this server signed it and it has not expired."""
        parts = (value or "").split(".")
        if len(parts) != 4:
            return None
        token_id, issued, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac("session", f"{token_id}.{issued}.{nonce}")):
            return None
        age = (time.time() if now is None else now) - int(issued)  # signed by us, so an int
        return Session(token_id, int(issued), nonce) if 0 <= age < self.max_age else None

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
