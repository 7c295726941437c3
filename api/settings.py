"""Settings from the environment (prefix INVOICE_AGENT_), defaulting to everything embedded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import tools
from agent.structured import Meter
from tools.store.tokens import parse_duration

DEMO_WORKSPACE = Path(tools.__file__).parent / "demo" / "parallax"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICE_AGENT_", extra="ignore")

    workspace: Path = DEMO_WORKSPACE
    data_dir: Path = Path("invoice-agent-data")
    """Where runs keep their state: the SQLite store and checkpoints, invoices (PDF) and the email outbox."""
    database_url: str | None = None
    """SQLAlchemy URL of the store and checkpoints; default a SQLite file in data_dir.
    For PostgreSQL: postgresql+psycopg://user@host:5432/db"""
    anthropic_api_key: str | None = Field(default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY"))
    claude_model: str | None = None
    run_budget_usd: Decimal = Field(default=Decimal("0.02"), ge=0)
    """What one invoice run's model calls may cost (USD, estimated from token counts); past it, the offline
    review stands in, with a note."""
    run_budget_tokens: int = Field(default=20_000, ge=0)

    def meter(self) -> Meter:
        """A fresh budget for one run's (or one command's) model calls."""
        return Meter(self.run_budget_usd, self.run_budget_tokens)
    actor: str = Field(default="cli", validation_alias=AliasChoices("INVOICE_AGENT_ACTOR", "USER"))

    # --- the HTTP API (`invoice-agent serve`) ---------------------------------------------------------
    public_url: str = "http://127.0.0.1:8000"
    """Where people reach the server: the links in notifications start with it."""
    run_workers: int = Field(default=4, ge=0, le=64)
    """Queued runs the server drafts at once in its background (0: none, `invoice-agent worker` processes
    draft them); more requests wait in the store's queue (`tools.store.jobs`)."""
    tick_every: float = Field(default=0.0, ge=0)
    """Seconds between collections ticks inside `serve` (0: none; `serve` defaults to hourly)."""

    # --- queued runs (the server's workers and `invoice-agent worker`) --------------------------------
    job_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a worker holds a queued run without renewing its lease (it renews every third of it): a
    run whose worker died is taken over this long after the worker's last renewal."""
    job_poll_seconds: float = Field(default=1.0, gt=0)
    """How often an idle worker looks for queued runs (a server's own requests wake its workers at once)."""
    job_attempts: int = Field(default=3, ge=1)
    """Claims a queued run gets: a run whose workers die this many times is failed with the reason."""

    # --- telling approvers a draft waits (each channel is off until configured) -----------------------
    slack_webhook_url: SecretStr | None = None
    """A Slack incoming-webhook URL (it is a secret: anyone with it can post)."""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "invoice-agent@localhost"
    smtp_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Who is emailed; in the environment a comma-separated list."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    notify_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for Slack or the SMTP server before a try counts as failed."""

    @field_validator("smtp_to", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'invoice-agent.sqlite'}"

    def review_url(self, run_id: str) -> str:
        """The page where a person reviews and decides the run's draft."""
        return f"{self.public_url.rstrip('/')}/review/{run_id}"

    # --- limits on what one client may cost (api.limits, issue 14) ------------------------------------
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    """The largest request body the server reads (bytes); a larger one is answered 413 unread."""
    auth_failures_max: int = Field(default=10, ge=1)
    """Failed authentications (a wrong token, or a wrong one in the review sign-in form) an address may make
    in `auth_failures_window` seconds; past it the address is answered 429 until the oldest leaves it."""
    auth_failures_window: float = Field(default=60.0, gt=0)
    token_expires_in: timedelta | None = None
    """How long a new token lives when `invoice-agent token create` is not given --expires-in: "30d", "12h",
    "90m", "2w" or "never" (the default: tokens live until they are revoked)."""

    @field_validator("token_expires_in", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
