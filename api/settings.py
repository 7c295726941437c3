"""Settings from the environment (prefix INVOICE_AGENT_), defaulting to everything embedded."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import tools

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
    actor: str = Field(default="cli", validation_alias=AliasChoices("INVOICE_AGENT_ACTOR", "USER"))

    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'invoice-agent.sqlite'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
