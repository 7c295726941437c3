"""API tokens: who may call the HTTP API, and in which role. Only a hash of each token is kept.

    tokens = ApiTokens(store)                        # on a migrated Store
    secret, record = tokens.create("approver", "ann@firm")
    tokens.authenticate(secret)                      # -> the record, or None (unknown or revoked)

A token is 256 random bits, so a plain SHA-256 of it is as hard to reverse as the token is to guess (no
salt or slow hash is needed, unlike for passwords); looking a token up by its hash also means the
database never compares secrets. The secret is shown once, when it is created, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tools.store.errors import RecordNotFoundError
from tools.store.models import Base
from tools.store.store import Store
from tools.store.types import UTCDateTime

__all__ = ["ROLES", "TOKEN_PREFIX", "ApiTokenRecord", "ApiTokenRow", "ApiTokens", "Role", "hash_token"]

Role = Literal["approver", "viewer"]
ROLES: tuple[Role, ...] = ("approver", "viewer")
TOKEN_PREFIX = "iat_"
"""Every token starts with this, so a leaked one is easy to recognise (and to grep for)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("role IN ('approver', 'viewer')", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiTokenRecord(BaseModel):
    """A token as the API sees it: never the secret, nor its hash."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ApiTokens:
    """The `api_tokens` table of a `Store` (migrated to 0002 or later)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Like the Store's own writes: on SQLite take the write lock when the transaction begins.

    def create(self, role: Role, label: str, *, now: datetime | None = None) -> tuple[str, ApiTokenRecord]:
        """A new token: the secret (show it once) and its record."""
        if role not in ROLES:
            raise ValueError(f"a token's role is one of {', '.join(ROLES)}, not {role!r}")
        if not label.strip():
            raise ValueError("a token needs a label: the name its decisions are recorded under")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(id=uuid.uuid4().hex[:16], token_hash=hash_token(secret), role=role, label=label.strip(),
                          created_at=now or self._now(), revoked_at=None)
        with self._write() as s:
            s.add(row)
        return secret, ApiTokenRecord.model_validate(row)

    def authenticate(self, secret: str) -> ApiTokenRecord | None:
        """The live token with this secret; None if there is none or it was revoked."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        with self._read() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(secret)))
            if row is None or row.revoked_at is not None:
                return None
            return ApiTokenRecord.model_validate(row)

    def revoke(self, token_id: str) -> ApiTokenRecord:
        """Revoke a token by id; revoking again changes nothing."""
        with self._write() as s:
            row = s.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise RecordNotFoundError("API token", token_id)
            if row.revoked_at is None:
                row.revoked_at = self._now()
            return ApiTokenRecord.model_validate(row)

    def list(self) -> list[ApiTokenRecord]:
        """Every token, oldest first, revoked ones included."""
        with self._read() as s:
            rows = s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id))
            return [ApiTokenRecord.model_validate(row) for row in rows]

    def _now(self) -> datetime:
        return self._store._clock()  # the store's clock, so tests that move time move it here too

    def _read(self) -> AbstractContextManager[Session]:
        return self._store._read()  # one transaction on the store's engine (same package)

    def _write(self) -> AbstractContextManager[Session]:
        return self._store._write()  # BEGIN IMMEDIATE on SQLite, like every store write
