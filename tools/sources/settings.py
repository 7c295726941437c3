"""Credentials and endpoints of the sources, from the environment (prefix INVOICE_AGENT_, like api.settings).

Each source is off until its credentials are set; the error of a missing one names the variable:

    Harvest    INVOICE_AGENT_HARVEST_TOKEN, INVOICE_AGENT_HARVEST_ACCOUNT_ID, INVOICE_AGENT_HARVEST_CONTACT
    Toggl      INVOICE_AGENT_TOGGL_API_TOKEN (several, comma-separated: /me/time_entries is per user)
    Clockify   INVOICE_AGENT_CLOCKIFY_API_KEY, INVOICE_AGENT_CLOCKIFY_WORKSPACE_ID
    Asana      INVOICE_AGENT_ASANA_TOKEN (INVOICE_AGENT_ASANA_WORKSPACE to list projects)
    ClickUp    INVOICE_AGENT_CLICKUP_TOKEN (INVOICE_AGENT_CLICKUP_TEAM_ID to list lists)
    Jira       INVOICE_AGENT_JIRA_URL (https://SITE.atlassian.net), INVOICE_AGENT_JIRA_EMAIL,
               INVOICE_AGENT_JIRA_API_TOKEN
    Webhooks   INVOICE_AGENT_CLICKUP_WEBHOOK_SECRET, INVOICE_AGENT_JIRA_WEBHOOK_SECRET,
               INVOICE_AGENT_ASANA_WEBHOOK_SECRET (optional: else the secret of Asana's handshake is kept)

`*_URL` settings point a source elsewhere (a proxy, or a local fake server in tests).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tools.sources.errors import SourceConfigError, system_name


class SourceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICE_AGENT_", extra="ignore")

    # --- Harvest API v2 ------------------------------------------------------------------------------
    harvest_token: SecretStr | None = None
    """A personal access token (id.getharvest.com/developers) or an OAuth2 access token."""
    harvest_account_id: str | None = None
    harvest_contact: str = "invoice-agent@localhost"
    """Harvest wants a User-Agent naming the app and a contact (email or URL); without one it answers 400."""
    harvest_url: str = "https://api.harvestapp.com/v2"

    # --- Toggl Track API v9 --------------------------------------------------------------------------
    toggl_api_token: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    toggl_url: str = "https://api.track.toggl.com/api/v9"

    # --- Clockify API v1 + Reports API ---------------------------------------------------------------
    clockify_api_key: SecretStr | None = None
    clockify_workspace_id: str | None = None
    clockify_url: str = "https://api.clockify.me/api/v1"
    clockify_reports_url: str = "https://reports.api.clockify.me/v1"

    # --- Asana ---------------------------------------------------------------------------------------
    asana_token: SecretStr | None = None
    asana_workspace: str | None = None
    asana_url: str = "https://app.asana.com/api/1.0"
    asana_webhook_secret: SecretStr | None = None

    # --- ClickUp API v2 ------------------------------------------------------------------------------
    clickup_token: SecretStr | None = None
    clickup_team_id: str | None = None
    clickup_url: str = "https://api.clickup.com/api/v2"
    clickup_webhook_secret: SecretStr | None = None

    # --- Jira Cloud REST API v3 ----------------------------------------------------------------------
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None

    # --- all of them ---------------------------------------------------------------------------------
    sources_timezone: str = "UTC"
    """IANA zone in which UTC timestamps (Toggl, Clockify v1) become the workspace's dates and HH:MM times."""
    sources_timeout: float = Field(default=30.0, gt=0)
    sources_attempts: int = Field(default=5, ge=1, le=10)
    """Tries per request (429, 5xx and dropped connections are retried)."""
    sources_max_wait: float = Field(default=120.0, ge=0)
    """The longest wait between tries; a Retry-After beyond it fails at once, saying when to try again."""

    @field_validator("toggl_api_token", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def require(self, system: str, **values: object) -> None:
        """Raise SourceConfigError naming every unset variable among `values` (name → value)."""
        missing = [f"INVOICE_AGENT_{name.upper()}" for name, value in values.items() if not value]
        if missing:
            raise SourceConfigError(system, f"{system_name(system)} is not configured: set {', '.join(missing)}")
