"""What the QuickBooks, Xero and Stripe connectors share: the HTTP policy (timeouts, bounded retries with
backoff), payments read back from a ledger, the private note, money in minor units, the links book
(our client id -> the ledger's customer id) and the rule that picks a customer without a silent duplicate.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from tools.connectors.ledger import LedgerError, LedgerPayment
from tools.files import write_atomic
from tools.invoices import InvoiceDocument

if sys.platform != "win32":
    import fcntl

__all__ = [
    "NOTE_MARKER",
    "ConnectorError",
    "HttpPolicy",
    "LedgerAuthError",
    "LedgerLinks",
    "LedgerPayment",
    "LedgerUnavailableError",
    "Retry",
    "call_with_retries",
    "choose_customer",
    "derived_id",
    "from_minor",
    "private_note",
    "to_minor",
]

T = TypeVar("T")
C = TypeVar("C")

NOTE_MARKER = "invoice-agent push key"
"""Written into every pushed invoice's private note next to the idempotency key: how a later push
recognises an invoice it created itself (QuickBooks forgets request ids eventually)."""


@dataclass(frozen=True)
class HttpPolicy:
    """How long to wait for a ledger and how often to try again. The SDKs have no such policy of their own.

    A call is tried `1 + retries` times at most; waits grow from `backoff` doubling up to `max_backoff`
    (with a little jitter), and a server's Retry-After is honoured up to `max_retry_after`.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def describe_timeout(self) -> str:
        return f"{self.read_timeout:g} s"

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.backoff * (2**attempt), self.max_backoff)
        return float(base * (1 + random.random() / 4))  # jitter, not security


@dataclass(frozen=True)
class Retry:
    """A retry decision: try again, after the server's Retry-After if it gave one."""

    after: float | None = None


class ConnectorError(LedgerError):
    """A ledger failure that may not concern one invoice (`invoice` is then empty)."""

    def __init__(self, ledger: str, invoice: str | None, message: str) -> None:
        if invoice:
            super().__init__(ledger, invoice, message)
        else:
            self.ledger, self.invoice = ledger, ""
            Exception.__init__(self, f"{ledger} ledger: {message}")


class LedgerAuthError(ConnectorError):
    """The ledger refused our credentials (after one refresh): someone must connect again."""


class LedgerUnavailableError(ConnectorError):
    """The ledger did not answer in time, or kept throttling, after the bounded retries. Trying later is safe."""


def call_with_retries(policy: HttpPolicy, call: Callable[[], T], retry_on: Callable[[Exception], Retry | None]) -> T:
    """`call()`, tried again while `retry_on(exc)` says so and tries remain; the last error is raised."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            decision = retry_on(exc)
            if decision is None or attempt >= policy.retries:
                raise
            policy.sleep(policy.wait(attempt, decision.after))
            attempt += 1


def derived_id(prefix: str, key: str, *parts: str, length: int = 40) -> str:
    """A stable id for one create call, derived from the push's idempotency key (QuickBooks caps request ids
    at 50 characters; Stripe and Xero idempotency keys at 255 and 128)."""
    digest = hashlib.sha256("\x1f".join((key, *parts)).encode()).hexdigest()[:length]
    return f"{prefix}-{digest}"


def private_note(doc: InvoiceDocument, key: str, *, run_id: str | None = None, review_url: str | None = None) -> str:
    """The note kept on the ledger's invoice (never shown to the client): what made it and where to review it."""
    parts = [f"Created by invoice-agent: invoice {doc.number} for {doc.client_id}, "
             f"{doc.period_start}..{doc.period_end}."]
    if run_id:
        parts.append(f"Run {run_id}.")
    if review_url:
        parts.append(f"Review: {review_url}")
    parts.append(f"{NOTE_MARKER} {key}")
    return " ".join(parts)


def note_has_key(note: str | None, key: str) -> bool:
    return bool(note) and f"{NOTE_MARKER} {key}" in str(note)


# ISO 4217 currencies without minor units (Stripe's list of zero-decimal currencies).
_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's minor unit (pence, cents); refuses anything that would be rounded."""
    exponent = 0 if currency.upper() in _ZERO_DECIMAL else 2
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} has more precision than the currency's minor unit")
    return int(minor)


def from_minor(amount: int, currency: str) -> Decimal:
    exponent = 0 if currency.upper() in _ZERO_DECIMAL else 2
    return Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def choose_customer(
    ledger: str,
    doc: InvoiceDocument,
    *,
    by_id: Sequence[C],
    by_name: Sequence[C],
    by_email: Sequence[C],
    ident: Callable[[C], str],
    describe: Callable[[C], str],
    fix: str,
) -> C | None:
    """The one customer that is our client, or None to create it; never a guess between several.

    A customer linked to our client id wins. Otherwise the customers whose name or email match must be
    one and the same; two different ones are refused (`fix` says how to resolve it in the ledger).
    """
    for kind, found in (("id", _unique(by_id, ident)), ("name or email", _unique([*by_name, *by_email], ident))):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = "; ".join(describe(c) for c in found)
            raise LedgerError(ledger, doc.number, f"{len(found)} customers match client {doc.client_id!r} "
                              f"({doc.client_name}, {doc.client_email or 'no email'}) by {kind}: {listed}. "
                              f"Nothing was created, to avoid billing the wrong one. {fix}")
    return None


def _unique(items: Sequence[C], ident: Callable[[C], str]) -> list[C]:
    seen: dict[str, C] = {}
    for item in items:
        seen.setdefault(ident(item), item)
    return list(seen.values())


class LedgerLinks:
    """What a ledger's ids are for our things (customers by client id, items by code), kept in the data folder.

    Not secret, only a shortcut: a lost file means the next push matches by name or email again.
    """

    def __init__(self, data_dir: str | Path, ledger: str, account: str) -> None:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in account)
        self.path = Path(data_dir) / "ledgers" / f"{ledger}-{safe}.json"
        self._lock = threading.Lock()

    def get(self, kind: str, key: str) -> str | None:
        value = self._read().get(kind, {}).get(key)
        return str(value) if value is not None else None

    def set(self, kind: str, key: str, value: str) -> None:
        with self._locked():
            data = self._read()
            data.setdefault(kind, {})[key] = value
            write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    def forget(self, kind: str, key: str) -> None:
        with self._locked():
            data = self._read()
            if data.get(kind, {}).pop(key, None) is not None:
                write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, file_lock(self.path.with_suffix(".lock")):
            yield


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (where the OS has flock) on `path`, created if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if sys.platform != "win32":
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


