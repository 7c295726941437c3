"""Errors of the time and task sources (Harvest, Toggl, Clockify, Asana, ClickUp, Jira) and their webhooks.

    InvoiceAgentError
    └── SourceError                 names the system; every message says what to do
        ├── SourceConfigError       a setting is missing (the message names the environment variable)
        ├── SourceAuthError         401/403: the credentials are wrong or lack a permission
        ├── SourceRateLimitedError  429, still so after the bounded retries (or asked to wait too long)
        ├── SourceUnavailableError  5xx or no connection, still so after the bounded retries
        ├── SourceRequestError      another 4xx: the request itself was refused (a bad id, a bad filter)
        │   └── SourceNotFoundError 404
        ├── SourcePayloadError      the answer is not what the API documents; names the field
        ├── MappingError            the source mapping (sources.yaml) is invalid or names an unknown client
        └── WebhookError            a webhook delivery cannot be accepted
            └── WebhookSignatureError   missing or wrong signature (the sender gets 401)

Rows of a CSV export that cannot be read are values (`importers.RowProblem`), not exceptions.
"""

from __future__ import annotations

from tools.errors import InvoiceAgentError

SYSTEM_NAMES = {
    "harvest": "Harvest",
    "toggl": "Toggl Track",
    "clockify": "Clockify",
    "asana": "Asana",
    "clickup": "ClickUp",
    "jira": "Jira",
}


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system)


class SourceError(InvoiceAgentError):
    """Something went wrong talking to (or reading from) one source system."""

    def __init__(self, system: str, message: str) -> None:
        self.system = system
        super().__init__(message)


class SourceConfigError(SourceError):
    pass


class SourceAuthError(SourceError):
    def __init__(self, system: str, status: int, detail: str, settings_hint: str) -> None:
        self.status = status
        what = "rejected the credentials" if status == 401 else "refused access with these credentials"
        detail = f": {detail}" if detail else ""
        super().__init__(system, f"{system_name(system)} {what} (HTTP {status}{detail}); check {settings_hint}")


class SourceRateLimitedError(SourceError):
    def __init__(self, system: str, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(system, message)


class SourceUnavailableError(SourceError):
    pass


class SourceRequestError(SourceError):
    def __init__(self, system: str, status: int, detail: str, url: str) -> None:
        self.status = status
        super().__init__(system, f"{system_name(system)} refused {url} (HTTP {status}): {detail or 'no detail given'}")


class SourceNotFoundError(SourceRequestError):
    pass


class SourcePayloadError(SourceError):
    """The payload does not have the documented shape; `field` is the path of the offending field."""

    def __init__(self, system: str, field: str, message: str) -> None:
        self.field = field
        super().__init__(system, f"{system_name(system)} sent a malformed payload: {field}: {message}")


class MappingError(SourceError):
    pass


class WebhookError(SourceError):
    pass


class WebhookSignatureError(WebhookError):
    pass
