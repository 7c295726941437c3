"""Ledger credentials, encrypted at rest: `data_dir/ledger-credentials.json`, one Fernet token per ledger.

The key comes from settings (`INVOICE_AGENT_CREDENTIALS_KEY`): a Fernet key, or several separated by
commas to rotate (the first encrypts, any of them decrypts). Without the key nothing can be read, so the
file alone (a backup, a copied data folder) gives away no token.

    {"version": 1, "ledgers": {"quickbooks": "gAAAAA...", "xero": "gAAAAA...", "stripe": "gAAAAA..."}}

Writes are atomic (temporary file, then rename; mode 0600) and serialized across threads and processes.
`refreshing(scope)` serializes OAuth refreshes per QuickBooks realm or Xero tenant: a refresh token is
single-use once rotated, so two processes refreshing with the same one would lock one of them out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, SecretStr, ValidationError

from tools.connectors.common import file_lock
from tools.errors import InvoiceAgentError
from tools.files import write_atomic

__all__ = [
    "CredentialStore",
    "CredentialsError",
    "QuickBooksCredentials",
    "StripeCredentials",
    "XeroCredentials",
    "generate_key",
]

M = TypeVar("M", bound=BaseModel)

KEY_SETTING = "INVOICE_AGENT_CREDENTIALS_KEY"


class CredentialsError(InvoiceAgentError):
    """Credentials are missing, unreadable with the configured key, or malformed."""


class QuickBooksCredentials(BaseModel):
    client_id: str
    client_secret: str = Field(repr=False)
    realm_id: str
    environment: Literal["sandbox", "production"] = "production"
    redirect_uri: str = "http://localhost:8000/ledger/quickbooks/callback"
    refresh_token: str = Field(repr=False)
    access_token: str = Field(default="", repr=False)
    access_expires_at: float = 0.0
    """Unix time the access token stops working (0: unknown, refresh before first use)."""
    refresh_expires_at: float = 0.0
    updated_at: float = Field(default_factory=time.time)


class XeroCredentials(BaseModel):
    client_id: str
    client_secret: str = Field(repr=False)
    tenant_id: str
    refresh_token: str = Field(repr=False)
    access_token: str = Field(default="", repr=False)
    expires_at: float = 0.0
    scope: list[str] = Field(default_factory=lambda: ["offline_access", "accounting.transactions",
                                                      "accounting.contacts", "accounting.settings"])
    updated_at: float = Field(default_factory=time.time)


class StripeCredentials(BaseModel):
    api_key: str = Field(repr=False)
    webhook_secret: str = Field(default="", repr=False)
    """The endpoint's signing secret (whsec_...), for `POST /webhooks/stripe`."""
    updated_at: float = Field(default_factory=time.time)


def generate_key() -> str:
    """A new Fernet key for `INVOICE_AGENT_CREDENTIALS_KEY`."""
    return Fernet.generate_key().decode()


class CredentialStore:
    """Encrypted credentials per ledger in `data_dir/ledger-credentials.json`.

    Args:
        data_dir: the data folder.
        key: the Fernet key(s) from settings; comma-separated to rotate. Reading or writing without a key
            raises `CredentialsError` saying how to make one.
    """

    FILE = "ledger-credentials.json"

    def __init__(self, data_dir: str | Path, key: str | SecretStr | None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / self.FILE
        secret = key.get_secret_value() if isinstance(key, SecretStr) else key
        self._keys = [k.strip() for k in (secret or "").split(",") if k.strip()]
        self._lock = threading.RLock()

    # --- reading and writing ---------------------------------------------------------------------

    def load(self, ledger: str, model: type[M]) -> M:
        """The ledger's credentials, decrypted.

        Raises:
            CredentialsError: not connected, the key cannot decrypt them, or they are malformed.
        """
        token = self._read().get(ledger)
        if token is None:
            raise CredentialsError(f"no {ledger} credentials in {self.path}; connect first: "
                                   f"invoice-agent ledger connect {ledger}")
        try:
            plain = self._fernet().decrypt(token.encode())
        except InvalidToken:
            raise CredentialsError(f"the {ledger} credentials in {self.path} cannot be decrypted with "
                                   f"{KEY_SETTING}: it is not the key they were saved with (add the old key after "
                                   "a comma to rotate, or connect again)") from None
        try:
            return model.model_validate_json(plain)
        except ValidationError as exc:
            raise CredentialsError(f"the {ledger} credentials in {self.path} are incomplete ({exc.error_count()} "
                                   f"problem(s)); connect again: invoice-agent ledger connect {ledger}") from None

    def save(self, ledger: str, credentials: BaseModel) -> None:
        """Encrypt and store the ledger's credentials, replacing what was there."""
        token = self._fernet().encrypt(credentials.model_dump_json().encode()).decode()
        with self._locked():
            data = self._read()
            data[ledger] = token
            self._write(data)

    def remove(self, ledger: str) -> bool:
        with self._locked():
            data = self._read()
            if data.pop(ledger, None) is None:
                return False
            self._write(data)
            return True

    def connected(self) -> list[str]:
        """The ledgers with stored credentials (whether they still work is `invoice-agent ledger check`)."""
        return sorted(self._read())

    def rotate(self) -> int:
        """Re-encrypt everything with the first key; returns how many ledgers were re-encrypted."""
        with self._locked():
            data = self._read()
            fernet = self._fernet()
            rotated = {name: fernet.rotate(token.encode()).decode() for name, token in data.items()}
            self._write(rotated)
            return len(rotated)

    # --- serializing token refreshes -------------------------------------------------------------

    _scopes: ClassVar[dict[str, threading.Lock]] = {}
    _scopes_guard = threading.Lock()

    @contextmanager
    def refreshing(self, scope: str) -> Iterator[None]:
        """Hold while refreshing `scope`'s OAuth tokens: one refresh at a time per scope, in every process."""
        with CredentialStore._scopes_guard:
            lock = CredentialStore._scopes.setdefault(f"{self.path}:{scope}", threading.Lock())
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in scope)
        with lock, file_lock(self.data_dir / f".refresh-{safe}.lock"):
            yield

    # --- internals -------------------------------------------------------------------------------

    def _fernet(self) -> MultiFernet:
        if not self._keys:
            raise CredentialsError(f"{KEY_SETTING} is not set: ledger credentials are stored encrypted. Make a key "
                                   f"with `invoice-agent ledger key` and set {KEY_SETTING} to it (keep it out of "
                                   "the data folder)")
        try:
            return MultiFernet([Fernet(k.encode()) for k in self._keys])
        except (ValueError, TypeError):
            raise CredentialsError(f"{KEY_SETTING} is not a Fernet key (32 url-safe base64 bytes); make one with "
                                   "`invoice-agent ledger key`") from None

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError:
            raise CredentialsError(f"{self.path} is not valid JSON; remove it and connect again") from None
        ledgers = data.get("ledgers", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in ledgers.items()} if isinstance(ledgers, dict) else {}

    def _write(self, ledgers: dict[str, str]) -> None:
        body = json.dumps({"version": 1, "ledgers": ledgers}, indent=2, sort_keys=True).encode()
        write_atomic(self.path, body, mode=0o600)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, file_lock(self.data_dir / ".ledger-credentials.lock"):
            yield
