"""Connecting the real connectors to the fakes: credentials in an encrypted store, a fast test policy."""

from __future__ import annotations

import time
from pathlib import Path

from tests.connectors.fakes.quickbooks import FakeQuickBooks
from tests.connectors.fakes.stripe import FakeStripe
from tests.connectors.fakes.xero import FakeXero
from tools.connectors.common import HttpPolicy
from tools.connectors.credentials import (
    CredentialStore,
    QuickBooksCredentials,
    StripeCredentials,
    XeroCredentials,
    generate_key,
)
from tools.connectors.quickbooks import QuickBooksLedger
from tools.connectors.select import LedgerConfig
from tools.connectors.stripe_ledger import StripeLedger
from tools.connectors.xero import XeroLedger

KEY = generate_key()

FAST = HttpPolicy(connect_timeout=0.5, read_timeout=0.4, retries=2, backoff=0.01, max_backoff=0.05,
                  max_retry_after=0.05)
"""Every wait in the tests is bounded: 0.4 s for an answer, three tries, waits of hundredths of a second."""


def store(data_dir: Path) -> CredentialStore:
    return CredentialStore(data_dir, KEY)


def connect_quickbooks(fake: FakeQuickBooks, data_dir: Path, *, expired: bool = False) -> CredentialStore:
    access, refresh = fake.issue_tokens()
    credentials = store(data_dir)
    credentials.save("quickbooks", QuickBooksCredentials(
        client_id=fake.client_id, client_secret=fake.client_secret, realm_id=fake.realm, environment="sandbox",
        refresh_token=refresh, access_token=access, access_expires_at=time.time() + (-10 if expired else 3600)))
    return credentials


def quickbooks(fake: FakeQuickBooks, data_dir: Path, policy: HttpPolicy = FAST) -> QuickBooksLedger:
    return QuickBooksLedger(store(data_dir), data_dir, api_url=f"{fake.url}/v3",
                            discovery_url=f"{fake.url}/.well-known/openid_configuration/", policy=policy)


def connect_xero(fake: FakeXero, data_dir: Path) -> CredentialStore:
    access, refresh = fake.issue_tokens()
    credentials = store(data_dir)
    credentials.save("xero", XeroCredentials(client_id=fake.client_id, client_secret=fake.client_secret,
                                             tenant_id=fake.tenant, refresh_token=refresh, access_token=access,
                                             expires_at=time.time() + 1800))
    return credentials


def xero(fake: FakeXero, data_dir: Path, policy: HttpPolicy = FAST) -> XeroLedger:
    return XeroLedger(store(data_dir), data_dir, api_url=f"{fake.url}/api.xro/2.0",
                      token_url=f"{fake.url}/connect/token", policy=policy)


def connect_stripe(fake: FakeStripe, data_dir: Path) -> CredentialStore:
    credentials = store(data_dir)
    credentials.save("stripe", StripeCredentials(api_key=fake.api_key, webhook_secret=fake.webhook_secret))
    return credentials


def stripe_ledger(fake: FakeStripe, data_dir: Path, policy: HttpPolicy = FAST) -> StripeLedger:
    return StripeLedger(store(data_dir), data_dir, api_url=fake.url, policy=policy)


def config_for(name: str, fake: FakeQuickBooks | FakeXero | FakeStripe) -> LedgerConfig:
    """The settings that point `open_ledger` and the CLI at a fake."""
    return LedgerConfig(
        ledger=name, credentials_key=KEY, ledger_timeout=FAST.read_timeout,
        ledger_connect_timeout=FAST.connect_timeout, ledger_retries=FAST.retries, ledger_backoff=FAST.backoff,
        quickbooks_api_url=f"{fake.url}/v3", quickbooks_discovery_url=f"{fake.url}/.well-known/openid_configuration/",
        xero_api_url=f"{fake.url}/api.xro/2.0", xero_token_url=f"{fake.url}/connect/token", stripe_api_url=fake.url)
