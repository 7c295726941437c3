"""`invoice-agent ledger key|connect|check`, against the fakes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from tests.connectors.fakes.quickbooks import FakeQuickBooks
from tests.connectors.fakes.setup import KEY, config_for
from tests.connectors.fakes.stripe import FakeStripe
from tests.connectors.fakes.xero import FakeXero
from tools.connectors.credentials import CredentialStore, QuickBooksCredentials, StripeCredentials, XeroCredentials
from tools.connectors.local_ledger import LocalLedger
from tools.connectors.select import LedgerConfig, open_ledger


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("INVOICE_AGENT_CREDENTIALS_KEY", KEY)
    for name in ("LEDGER", "QUICKBOOKS_API_URL", "QUICKBOOKS_DISCOVERY_URL", "XERO_API_URL", "XERO_TOKEN_URL",
                 "STRIPE_API_URL"):
        monkeypatch.delenv(f"INVOICE_AGENT_{name}", raising=False)
    monkeypatch.setenv("INVOICE_AGENT_LEDGER_TIMEOUT", "0.4")
    monkeypatch.setenv("INVOICE_AGENT_LEDGER_RETRIES", "1")
    monkeypatch.setenv("INVOICE_AGENT_LEDGER_BACKOFF", "0.01")
    return monkeypatch


def point_at(env: pytest.MonkeyPatch, fake: FakeQuickBooks | FakeXero | FakeStripe) -> None:
    config = config_for("stripe", fake)
    env.setenv("INVOICE_AGENT_QUICKBOOKS_API_URL", str(config.quickbooks_api_url))
    env.setenv("INVOICE_AGENT_QUICKBOOKS_DISCOVERY_URL", str(config.quickbooks_discovery_url))
    env.setenv("INVOICE_AGENT_XERO_API_URL", str(config.xero_api_url))
    env.setenv("INVOICE_AGENT_XERO_TOKEN_URL", str(config.xero_token_url))
    env.setenv("INVOICE_AGENT_STRIPE_API_URL", str(config.stripe_api_url))


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def test_key_prints_a_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "key"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(key) == 44 and CredentialStore(".", key)._fernet()


def test_connect_stripe_stores_encrypted_and_checks(env: pytest.MonkeyPatch, tmp_path: Path, stripe_fake: FakeStripe,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    point_at(env, stripe_fake)
    env.setattr("sys.stdin", io.StringIO("whsec_from_stdin\n"))
    code = main(["ledger", "connect", "stripe", "--api-key", stripe_fake.api_key, "--webhook-secret", "-",
                 "--data", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "stored (encrypted)" in out and "stripe: connected to Stripe (test mode)" in out
    stored = CredentialStore(tmp_path, KEY).load("stripe", StripeCredentials)
    assert (stored.api_key, stored.webhook_secret) == (stripe_fake.api_key, "whsec_from_stdin")
    assert stripe_fake.api_key.encode() not in (tmp_path / CredentialStore.FILE).read_bytes()
    assert main(["ledger", "check", "stripe", "--data", str(tmp_path)]) == 0


def test_check_fails_clearly_when_the_connection_does_not_work(env: pytest.MonkeyPatch, tmp_path: Path,
                                                               stripe_fake: FakeStripe,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    point_at(env, stripe_fake)
    assert main(["ledger", "connect", "stripe", "--api-key", "sk_test_wrong", "--data", str(tmp_path)]) == 2
    assert "Invalid API Key" in capsys.readouterr().err
    assert main(["ledger", "check", "quickbooks", "--data", str(tmp_path)]) == 2
    assert "no quickbooks credentials" in capsys.readouterr().err
    env.delenv("INVOICE_AGENT_CREDENTIALS_KEY")
    assert main(["ledger", "check", "stripe", "--data", str(tmp_path)]) == 2
    assert "INVOICE_AGENT_CREDENTIALS_KEY is not set" in capsys.readouterr().err


def test_connect_quickbooks_with_a_refresh_token_refreshes_on_check(env: pytest.MonkeyPatch, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with FakeQuickBooks() as fake:
        point_at(env, fake)
        _, refresh = fake.issue_tokens()
        assert main(["ledger", "connect", "quickbooks", "--client-id", fake.client_id, "--client-secret",
                     fake.client_secret, "--realm-id", fake.realm, "--environment", "sandbox", "--refresh-token",
                     refresh, "--data", str(tmp_path)]) == 0
        assert "Sandbox Company_GB_1" in capsys.readouterr().out
        stored = CredentialStore(tmp_path, KEY).load("quickbooks", QuickBooksCredentials)
        assert stored.refresh_token != refresh and fake.refresh_tokens[stored.refresh_token]  # rotated and saved
        assert main(["ledger", "connect", "quickbooks", "--client-id", fake.client_id, "--client-secret",
                     fake.client_secret, "--data", str(tmp_path)]) == 0
        assert "/connect/oauth2?" in capsys.readouterr().out  # no token, no code: the URL to authorize


def test_connect_xero_and_check(env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeXero() as fake:
        point_at(env, fake)
        _, refresh = fake.issue_tokens()
        assert main(["ledger", "connect", "xero", "--client-id", fake.client_id, "--client-secret",
                     fake.client_secret, "--tenant-id", fake.tenant, "--refresh-token", refresh,
                     "--data", str(tmp_path)]) == 0
        assert "Demo Company (UK)" in capsys.readouterr().out
        assert CredentialStore(tmp_path, KEY).load("xero", XeroCredentials).refresh_token != refresh


def test_check_local_and_open_ledger_default(env: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "check", "--data", str(tmp_path)]) == 0
    assert "local ledger" in capsys.readouterr().out
    assert isinstance(open_ledger(None, tmp_path, LedgerConfig()), LocalLedger)
