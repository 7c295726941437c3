"""Choosing the ledger: `open_ledger(name, data_dir, config)` gives the local ledger or a connected one.

`LedgerConfig` reads the same environment as `api.settings.Settings` (prefix INVOICE_AGENT_):

    INVOICE_AGENT_LEDGER                 local (default) | quickbooks | xero | stripe
    INVOICE_AGENT_CREDENTIALS_KEY        Fernet key(s) the stored ledger credentials are encrypted with
    INVOICE_AGENT_LEDGER_TIMEOUT         seconds to wait for an answer (default 30)
    INVOICE_AGENT_LEDGER_RETRIES         extra tries for what is safe to retry (default 3)
    INVOICE_AGENT_QUICKBOOKS_API_URL     override the API base (tests: a local fake)
    INVOICE_AGENT_QUICKBOOKS_DISCOVERY_URL   override Intuit's OpenID discovery document
    INVOICE_AGENT_QUICKBOOKS_INCOME_ACCOUNT  income account id for new items
    INVOICE_AGENT_QUICKBOOKS_TAX_CODE    TaxCode id for TxnTaxDetail (outside the US)
    INVOICE_AGENT_XERO_API_URL / INVOICE_AGENT_XERO_TOKEN_URL
    INVOICE_AGENT_XERO_ACCOUNT_CODE      sales account code (default 200)
    INVOICE_AGENT_XERO_TAX_TYPE          line TaxType, e.g. OUTPUT2
    INVOICE_AGENT_STRIPE_API_URL
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.connectors.common import ConnectorError, HttpPolicy
from tools.connectors.credentials import CredentialStore
from tools.connectors.ledger import Ledger
from tools.connectors.local_ledger import LocalLedger

__all__ = [
    "LEDGERS",
    "LedgerConfig",
    "check_ledger",
    "connect_quickbooks",
    "connect_stripe",
    "connect_xero",
    "open_ledger",
]

LedgerName = Literal["local", "quickbooks", "xero", "stripe"]
LEDGERS: tuple[LedgerName, ...] = ("local", "quickbooks", "xero", "stripe")


class LedgerConfig(BaseSettings):
    """Which ledger, and how to reach it. Every field has an INVOICE_AGENT_ environment variable."""

    model_config = SettingsConfigDict(env_prefix="INVOICE_AGENT_", extra="ignore")

    ledger: LedgerName = "local"
    credentials_key: SecretStr | None = None
    ledger_timeout: float = Field(default=30.0, gt=0)
    ledger_connect_timeout: float = Field(default=5.0, gt=0)
    ledger_retries: int = Field(default=3, ge=0, le=10)
    ledger_backoff: float = Field(default=0.5, ge=0)
    quickbooks_api_url: str | None = None
    quickbooks_discovery_url: str | None = None
    quickbooks_income_account: str | None = None
    quickbooks_tax_code: str | None = None
    xero_api_url: str | None = None
    xero_token_url: str | None = None
    xero_account_code: str = "200"
    xero_tax_type: str | None = None
    stripe_api_url: str | None = None
    local_sender: str = "invoices@localhost"

    def policy(self) -> HttpPolicy:
        return HttpPolicy(connect_timeout=self.ledger_connect_timeout, read_timeout=self.ledger_timeout,
                          retries=self.ledger_retries, backoff=self.ledger_backoff)

    def credentials(self, data_dir: str | Path) -> CredentialStore:
        return CredentialStore(data_dir, self.credentials_key)


def open_ledger(name: str | None, data_dir: str | Path, config: LedgerConfig | None = None) -> Ledger:
    """The ledger called `name` (default: the configured one), ready to push; nothing is contacted yet.

    Raises:
        LedgerError: an unknown name.
    """
    config = config or LedgerConfig()
    chosen = name or config.ledger
    policy = config.policy()
    if chosen == "local":
        return LocalLedger(data_dir, sender=config.local_sender)
    if chosen == "quickbooks":
        from tools.connectors.quickbooks import QuickBooksLedger

        return QuickBooksLedger(config.credentials(data_dir), data_dir, api_url=config.quickbooks_api_url,
                                discovery_url=config.quickbooks_discovery_url, policy=policy,
                                income_account=config.quickbooks_income_account, tax_code=config.quickbooks_tax_code)
    if chosen == "xero":
        from tools.connectors.xero import XeroLedger

        return XeroLedger(config.credentials(data_dir), data_dir, api_url=config.xero_api_url,
                          token_url=config.xero_token_url, policy=policy, account_code=config.xero_account_code,
                          tax_type=config.xero_tax_type)
    if chosen == "stripe":
        from tools.connectors.stripe_ledger import StripeLedger

        return StripeLedger(config.credentials(data_dir), data_dir, api_url=config.stripe_api_url, policy=policy)
    raise ConnectorError(str(chosen), None, f"unknown ledger {chosen!r}; choose one of {', '.join(LEDGERS)}")


def check_ledger(ledger: Ledger) -> str:
    """A line saying what the ledger connection reaches; raises `LedgerError` (or `CredentialsError`) if it fails."""
    if isinstance(ledger, LocalLedger):
        return f"local ledger in {ledger.data_dir} (invoices as files, emails in the outbox)"
    check = getattr(ledger, "check", None)
    if check is None:
        return f"{ledger.name}: no check available"
    return str(check())


def connect_quickbooks(
    data_dir: str | Path,
    config: LedgerConfig,
    *,
    client_id: str,
    client_secret: str,
    realm_id: str,
    environment: Literal["sandbox", "production"] = "production",
    redirect_uri: str = "http://localhost:8000/ledger/quickbooks/callback",
    refresh_token: str | None = None,
    auth_code: str | None = None,
) -> str:
    """Store QuickBooks credentials: a refresh token as given, or one exchanged for an authorization code.

    Without either, nothing is stored and the authorization URL to open is returned instead.
    """
    import time

    from intuitlib.enums import Scopes
    from intuitlib.exceptions import AuthClientError

    from tools.connectors.credentials import QuickBooksCredentials
    from tools.connectors.quickbooks import _TimedAuthClient

    store = config.credentials(data_dir)
    if refresh_token:
        store.save("quickbooks", QuickBooksCredentials(client_id=client_id, client_secret=client_secret,
                                                       realm_id=realm_id, environment=environment,
                                                       redirect_uri=redirect_uri, refresh_token=refresh_token))
        return f"quickbooks: credentials for realm {realm_id} stored (encrypted) in {store.path}"
    auth = _TimedAuthClient(client_id, client_secret, redirect_uri, config.quickbooks_discovery_url or environment,
                            timeout=config.policy().timeout)
    if not auth_code:
        url = auth.get_authorization_url([Scopes.ACCOUNTING])
        return ("quickbooks: open this URL, approve, then run this command again with --auth-code CODE "
                f"--realm-id REALM from the redirect:\n{url}")
    try:
        auth.get_bearer_token(auth_code, realm_id=realm_id)
    except AuthClientError as exc:
        raise ConnectorError("quickbooks", None, f"Intuit refused the authorization code (HTTP {exc.status_code}): "
                          "codes expire after a few minutes and work once; authorize again") from None
    now = time.time()
    store.save("quickbooks", QuickBooksCredentials(
        client_id=client_id, client_secret=client_secret, realm_id=realm_id, environment=environment,
        redirect_uri=redirect_uri, refresh_token=auth.refresh_token, access_token=auth.access_token or "",
        access_expires_at=now + float(auth.expires_in or 3600)))
    return f"quickbooks: connected to realm {realm_id}; credentials stored (encrypted) in {store.path}"


def connect_xero(data_dir: str | Path, config: LedgerConfig, *, client_id: str, client_secret: str, tenant_id: str,
                 refresh_token: str) -> str:
    """Store Xero credentials (the first refresh happens on first use, and its rotated token is saved)."""
    from tools.connectors.credentials import XeroCredentials

    store = config.credentials(data_dir)
    store.save("xero", XeroCredentials(client_id=client_id, client_secret=client_secret, tenant_id=tenant_id,
                                       refresh_token=refresh_token))
    return f"xero: credentials for tenant {tenant_id} stored (encrypted) in {store.path}"


def connect_stripe(data_dir: str | Path, config: LedgerConfig, *, api_key: str, webhook_secret: str = "") -> str:
    from tools.connectors.credentials import StripeCredentials

    if not api_key.startswith(("sk_", "rk_")):
        raise ConnectorError("stripe", None, "the API key should be a secret (sk_...) or restricted (rk_...) key")
    store = config.credentials(data_dir)
    store.save("stripe", StripeCredentials(api_key=api_key, webhook_secret=webhook_secret))
    return f"stripe: credentials stored (encrypted) in {store.path}"
