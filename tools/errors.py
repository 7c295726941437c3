"""The one exception tree of invoice-agent. Every message says what went wrong, where, and what to do.

    InvoiceAgentError
    ├── WorkspaceError            a workspace folder is malformed; carries every Issue found
    ├── DomainError               a request that the data cannot satisfy
    │   ├── CurrencyMismatchError two currencies met in one sum
    │   ├── UnknownClientError    no client with that id, name or alias
    │   ├── InvalidPeriodError    a period that is not YYYY-MM or START..END
    │   └── BillingError          the client's terms cannot price an entry (e.g. no rate applies)
    └── ModelError                the model API (Claude) failed; raised by agent/claude.py
        ├── ModelAuthError        the API key is missing, wrong or lacks permission (401/403)
        ├── ModelRequestError     the API rejected what we sent (400/404/413...): a bug or bad config
        ├── ModelSpendLimitError  the organization's spend limit is reached: retrying will not help
        ├── ModelStoppedError     the model refused, or its turn was cut (max_tokens, context window)
        ├── ModelUnavailableError overloaded (529), rate limited (429), 5xx or unreachable, after retries
        ├── ModelOutputError      a structured answer that did not validate, twice
        └── ModelBudgetError      the run's token or dollar budget for model calls is spent

Problems found *in data* (anomalies, validation issues) are values, not exceptions: see
`tools.domain.Issue` and `tools.domain.Anomaly`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.domain import Issue


class InvoiceAgentError(Exception):
    """Base of every error invoice-agent raises on purpose."""


class WorkspaceError(InvoiceAgentError):
    """A workspace could not be loaded; `issues` lists every problem, file by file."""

    def __init__(self, root: str, issues: list[Issue]) -> None:
        self.root = root
        self.issues = issues
        lines = [f"workspace {root} has {len(issues)} problem(s); nothing was loaded:"]
        lines += [f"  {issue}" for issue in issues]
        super().__init__("\n".join(lines))


class DomainError(InvoiceAgentError):
    """The request cannot be satisfied by the data as it is."""


class CurrencyMismatchError(DomainError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} and {right} amounts: currencies are never mixed or converted")


class UnknownClientError(DomainError):
    def __init__(self, query: str, known: list[str]) -> None:
        self.query = query
        super().__init__(f"no client matches {query!r}; known clients: {', '.join(known) or '(none)'}")


class InvalidPeriodError(DomainError):
    def __init__(self, text: str) -> None:
        super().__init__(f"invalid period {text!r}: use YYYY-MM (a month) or YYYY-MM-DD..YYYY-MM-DD")


class BillingError(DomainError):
    """The client's billing terms cannot price something; the message names the client and entry."""


class ModelError(InvoiceAgentError):
    """The model API failed; the message says what happened and what to do. `request_id` is for support."""

    def __init__(self, message: str, *, status_code: int | None = None, request_id: str | None = None) -> None:
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(f"{message} (request id {request_id})" if request_id else message)


class ModelAuthError(ModelError):
    """The API key is missing, rejected (401) or not allowed to do this (403)."""


class ModelRequestError(ModelError):
    """The API rejected the request itself (400, 404, 413, ...): sending it again will fail again."""


class ModelSpendLimitError(ModelError):
    """The organization's spend limit is reached (402, or 429 with a spend-limit code): no retry helps."""


class ModelStoppedError(ModelError):
    """The model answered but did not finish: a refusal, or a turn cut at max_tokens or the context window."""


class ModelUnavailableError(ModelError):
    """Overloaded, rate limited, a server error or no connection, and still so after the bounded retries."""


class ModelOutputError(ModelError):
    """The model's structured answer did not validate, even after it was shown the errors once."""


class ModelBudgetError(ModelError):
    """The run's token or dollar budget for model calls is spent (or the next call would overspend it)."""
