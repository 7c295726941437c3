"""API tokens: who may call the HTTP API, and in which role. Only a hash of each token is kept.

    tokens = ApiTokens(store)                        # on a migrated Store
    secret, record = tokens.create("approver", "ann@firm", expires_in=parse_duration("30d"))
    tokens.authenticate(secret)                      # -> the record, or None (unknown, revoked or expired)
    tokens.find(secret)                              # -> the record whatever its state (to say which)

A token is 256 random bits, so a plain SHA-256 of it is as hard to reverse as the token is to guess (no
salt or slow hash is needed, unlike for passwords); looking a token up by its hash also means the
database never compares secrets. The secret is shown once, when it is created, and never stored.

A token may expire (`expires_at`; none by default). The review pages' sign-ins are kept here too
(`review_sessions`, see api.sessions): a session is live while it has not been ended (signing out) and
its token is live, so revoking a token, or its expiry, ends every session it signed in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tools.store.errors import RecordNotFoundError
from tools.store.models import Base
from tools.store.store import Store
from tools.store.types import UTCDateTime

__all__ = ["ROLES", "TOKEN_PREFIX", "ApiTokenRecord", "ApiTokenRow", "ApiTokens", "ReviewSessionRow", "Role",
           "hash_token", "parse_duration"]

Role = Literal["approver", "viewer"]
ROLES: tuple[Role, ...] = ("approver", "viewer")
TOKEN_PREFIX = "iat_"
"""Every token starts with this, so a leaked one is easy to recognise (and to grep for)."""


_DURATION = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str) -> timedelta | None:
    """How long a token lives, as written on the command line or in a setting: "30d", "12h", "90m", "2w";
    "never" is no expiry (None). Anything else is a ValueError that says what is expected."""
    cleaned = text.strip().lower()
    if cleaned in ("never", "none"):
        return None
    found = _DURATION.fullmatch(cleaned)
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration: expected a duration such as 30d, 12h or 90m "
                         "(m, h, d or w), or 'never'")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("role IN ('approver', 'viewer')", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """None: the token lives until it is revoked (migration 0007)."""


class ReviewSessionRow(Base):
    """A sign-in to the review pages (api.sessions): the browser's cookie names it, the store says whether it
    has ended. Rows are deleted once they expire (at the next sign-in)."""

    __tablename__ = "review_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the session's nonce: the cookie holds the nonce, the store cannot rebuild the cookie."""
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the person signed out, or the token was revoked."""


class ApiTokenRecord(BaseModel):
    """A token as the API sees it: never the secret, nor its hash."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class ApiTokens:
    """The `api_tokens` and `review_sessions` tables of a `Store` (migrated to 0007 or later)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Like the Store's own writes: on SQLite take the write lock when the transaction begins.

    def create(self, role: Role, label: str, *, expires_in: timedelta | None = None,
               now: datetime | None = None) -> tuple[str, ApiTokenRecord]:
        """A new token: the secret (show it once) and its record; it expires `expires_in` after `now`, if given."""
        if role not in ROLES:
            raise ValueError(f"a token's role is one of {', '.join(ROLES)}, not {role!r}")
        if not label.strip():
            raise ValueError("a token needs a label: the name its decisions are recorded under")
        if expires_in is not None and expires_in <= timedelta(0):
            raise ValueError(f"a token expires after a positive duration, not {expires_in}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = now or self._now()
        row = ApiTokenRow(id=uuid.uuid4().hex[:16], token_hash=hash_token(secret), role=role, label=label.strip(),
                          created_at=created, revoked_at=None,
                          expires_at=None if expires_in is None else created + expires_in)
        with self._write() as s:
            s.add(row)
        return secret, ApiTokenRecord.model_validate(row)

    def authenticate(self, secret: str) -> ApiTokenRecord | None:
        """The live token with this secret; None if there is none, or it was revoked, or it has expired."""
        token = self.find(secret)
        return token if token is not None and self.live(token) else None

    def find(self, secret: str) -> ApiTokenRecord | None:
        """The token with this secret, live, revoked or expired (to tell the caller which); None if none."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        with self._read() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(secret)))
            return None if row is None else ApiTokenRecord.model_validate(row)

    def live(self, token: ApiTokenRecord) -> bool:
        """Neither revoked nor expired (by the store's clock)."""
        return token.revoked_at is None and not token.expired(self._now())

    def revoke(self, token_id: str) -> ApiTokenRecord:
        """Revoke a token by id, and end the review sessions it signed in; revoking again changes nothing."""
        with self._write() as s:
            row = s.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise RecordNotFoundError("API token", token_id)
            if row.revoked_at is None:
                row.revoked_at = self._now()
                s.execute(update(ReviewSessionRow)
                          .where(ReviewSessionRow.token_id == token_id, ReviewSessionRow.ended_at.is_(None))
                          .values(ended_at=row.revoked_at))
            return ApiTokenRecord.model_validate(row)

    def list(self) -> list[ApiTokenRecord]:
        """Every token, oldest first, revoked ones included."""
        with self._read() as s:
            rows = s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id))
            return [ApiTokenRecord.model_validate(row) for row in rows]

    # --- the review pages' sessions (api.sessions) ------------------------------------------------------

    def start_session(self, session_id: str, token_id: str, *, lasts: timedelta) -> None:
        """Record a sign-in of the token; sessions that have expired are deleted on the way."""
        now = self._now()
        with self._write() as s:
            s.execute(delete(ReviewSessionRow).where(ReviewSessionRow.expires_at <= now))
            s.add(ReviewSessionRow(id=session_id, token_id=token_id, started_at=now, expires_at=now + lasts,
                                   ended_at=None))

    def session_token(self, session_id: str) -> ApiTokenRecord | None:
        """The token of a session that has neither ended nor expired, if that token is live; else None."""
        now = self._now()
        with self._read() as s:
            found = s.execute(select(ReviewSessionRow, ApiTokenRow)
                              .join(ApiTokenRow, ApiTokenRow.id == ReviewSessionRow.token_id)
                              .where(ReviewSessionRow.id == session_id)).one_or_none()
            if found is None or found[0].ended_at is not None or found[0].expires_at <= now:
                return None
            token = ApiTokenRecord.model_validate(found[1])
        return token if self.live(token) else None

    def end_session(self, session_id: str) -> None:
        """Sign a session out (ending it again, or one that is not there, changes nothing)."""
        with self._write() as s:
            s.execute(update(ReviewSessionRow)
                      .where(ReviewSessionRow.id == session_id, ReviewSessionRow.ended_at.is_(None))
                      .values(ended_at=self._now()))

    def _now(self) -> datetime:
        return self._store._clock()  # the store's clock, so tests that move time move it here too

    def _read(self) -> AbstractContextManager[Session]:
        return self._store._read()  # one transaction on the store's engine (same package)

    def _write(self) -> AbstractContextManager[Session]:
        return self._store._write()  # BEGIN IMMEDIATE on SQLite, like every store write
