"""The store's errors: every message names the record and says what to do.

    InvoiceAgentError                       (tools.errors)
    └── StoreError                          something about persisted state
        ├── DatabaseUnavailableError        the database cannot be reached or migrated
        ├── RecordNotFoundError             no run / draft / approval / invoice with that id
        ├── InvalidTransitionError          the record is not in a state that allows the change
        ├── AlreadyBilledError              entries are already on a live invoice (names them)
        ├── RunAlreadyActiveError           another run is already billing this client and period
        └── NothingToInvoiceError           a draft with no lines cannot become an invoice
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tools.errors import InvoiceAgentError

if TYPE_CHECKING:
    from tools.store.records import ActiveWork

__all__ = [
    "AlreadyBilledError",
    "DatabaseUnavailableError",
    "InvalidTransitionError",
    "NothingToInvoiceError",
    "RecordNotFoundError",
    "RunAlreadyActiveError",
    "StoreError",
]

_SHOWN = 20  # entries named in the message; `AlreadyBilledError.entries` has them all


class StoreError(InvoiceAgentError):
    """Base of the errors raised by `tools.store`."""


class DatabaseUnavailableError(StoreError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"database {url} is unavailable: {reason}; check the database URL and that the server runs")


class RecordNotFoundError(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r} in the store")


class InvalidTransitionError(StoreError):
    def __init__(self, kind: str, key: str, current: str, wanted: str) -> None:
        self.kind = kind
        self.key = key
        self.current = current
        self.wanted = wanted
        super().__init__(f"{kind} {key!r} is {current}; it cannot become {wanted}")


class AlreadyBilledError(StoreError):
    """Some entries of a draft are already on a live invoice; `entries` maps entry id -> invoice number."""

    def __init__(self, workspace: str, entries: Mapping[str, str]) -> None:
        self.workspace = workspace
        self.entries = dict(sorted(entries.items()))
        shown = list(self.entries.items())[:_SHOWN]
        listed = ", ".join(f"{entry} (on {number})" for entry, number in shown)
        if len(self.entries) > _SHOWN:
            listed += f" and {len(self.entries) - _SHOWN} more"
        super().__init__(
            f"{len(self.entries)} entr{'y is' if len(self.entries) == 1 else 'ies are'} already billed "
            f"in workspace {workspace!r}: {listed}; void that invoice first or redraft without them"
        )


class RunAlreadyActiveError(StoreError):
    """A run (or its invoice) already bills this client and period; `active` names it. Nothing was recorded."""

    def __init__(self, active: ActiveWork) -> None:
        self.active = active
        super().__init__(f"{active.describe()}; nothing new was started")


class NothingToInvoiceError(StoreError):
    def __init__(self, client: str, period: str) -> None:
        super().__init__(f"the draft for {client} {period} has no lines; there is nothing to invoice")
