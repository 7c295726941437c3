"""Ledger credentials are encrypted at rest with the key from settings, and refreshes are serialized."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest

from tools.connectors.common import LedgerLinks, derived_id, from_minor, to_minor
from tools.connectors.credentials import (
    CredentialsError,
    CredentialStore,
    QuickBooksCredentials,
    StripeCredentials,
    generate_key,
)

SECRET = "sk_test_do_not_leak_123"


def test_tokens_are_encrypted_at_rest_and_read_back(tmp_path: Path) -> None:
    key = generate_key()
    CredentialStore(tmp_path, key).save("stripe", StripeCredentials(api_key=SECRET, webhook_secret="whsec_x"))
    raw = (tmp_path / CredentialStore.FILE).read_bytes()
    assert SECRET.encode() not in raw and b"whsec_x" not in raw
    assert list(json.loads(raw)["ledgers"]) == ["stripe"]
    assert stat.S_IMODE((tmp_path / CredentialStore.FILE).stat().st_mode) == 0o600
    loaded = CredentialStore(tmp_path, key).load("stripe", StripeCredentials)
    assert loaded.api_key == SECRET and SECRET not in repr(loaded)
    assert CredentialStore(tmp_path, key).connected() == ["stripe"]


def test_without_the_key_nothing_is_readable_and_the_message_says_what_to_do(tmp_path: Path) -> None:
    CredentialStore(tmp_path, generate_key()).save("stripe", StripeCredentials(api_key=SECRET))
    with pytest.raises(CredentialsError, match=r"INVOICE_AGENT_CREDENTIALS_KEY is not set.*ledger key"):
        CredentialStore(tmp_path, None).load("stripe", StripeCredentials)
    with pytest.raises(CredentialsError, match=r"cannot be decrypted.*not the key they were saved with"):
        CredentialStore(tmp_path, generate_key()).load("stripe", StripeCredentials)
    with pytest.raises(CredentialsError, match=r"not a Fernet key"):
        CredentialStore(tmp_path, "not-a-key").load("stripe", StripeCredentials)
    with pytest.raises(CredentialsError, match=r"no quickbooks credentials.*ledger connect quickbooks"):
        CredentialStore(tmp_path, generate_key()).load("quickbooks", QuickBooksCredentials)


def test_keys_rotate_old_key_after_a_comma(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    CredentialStore(tmp_path, old).save("stripe", StripeCredentials(api_key=SECRET))
    rotating = CredentialStore(tmp_path, f"{new},{old}")
    assert rotating.load("stripe", StripeCredentials).api_key == SECRET
    assert rotating.rotate() == 1
    assert CredentialStore(tmp_path, new).load("stripe", StripeCredentials).api_key == SECRET


def test_refreshes_of_one_realm_are_serialized(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, generate_key())
    inside, overlaps = [0], [0]

    def refresh() -> None:
        with store.refreshing("quickbooks-123"):
            inside[0] += 1
            overlaps[0] = max(overlaps[0], inside[0])
            time.sleep(0.02)
            inside[0] -= 1

    threads = [threading.Thread(target=refresh) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert overlaps[0] == 1


def test_links_and_helpers(tmp_path: Path) -> None:
    links = LedgerLinks(tmp_path, "quickbooks", "123/../x")
    assert links.get("customer", "acme") is None
    links.set("customer", "acme", "58")
    assert LedgerLinks(tmp_path, "quickbooks", "123/../x").get("customer", "acme") == "58"
    assert links.path.parent == tmp_path / "ledgers"
    links.forget("customer", "acme")
    assert links.get("customer", "acme") is None
    assert len(derived_id("inv", "k" * 64)) <= 50 and derived_id("inv", "a") != derived_id("inv", "b")
    from decimal import Decimal

    assert to_minor(Decimal("780.00"), "GBP") == 78000 and to_minor(Decimal("780"), "JPY") == 780
    assert from_minor(-7763, "GBP") == Decimal("-77.63")
    with pytest.raises(ValueError, match=r"precision"):
        to_minor(Decimal("1.005"), "GBP")
