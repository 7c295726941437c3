"""What every source shares: the records they produce, the two Protocols, payload reading, and HTTP.

A `TimeSource` (Harvest, Toggl Track, Clockify) yields `SourceEntry` records; a `TaskSource` (Asana,
ClickUp, Jira) yields `SourceTask` records. Both keep the source's own ids and say which source project
(and client) each record belongs to; `mapping.py` turns that into a workspace client, `sync.py` writes
the rows. Money and hours are `Decimal` from the payload's own digits: JSON is decoded with
`parse_float=Decimal`, so `6.0` is `Decimal("6.0")`, never a float.

`HttpApi` is the one HTTP client: httpx with the system's auth headers, and tenacity retries of 429
(waiting what `Retry-After` / `X-RateLimit-Reset` says, else exponential backoff), 5xx and dropped
connections, a bounded number of times; then a `SourceError` that names the system and what to do.
"""

from __future__ import annotations

import email.utils
import json
import re
import time as _time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from tools.sources.errors import (
    SourceAuthError,
    SourceNotFoundError,
    SourcePayloadError,
    SourceRateLimitedError,
    SourceRequestError,
    SourceUnavailableError,
    system_name,
)

# ----------------------------------------------------------------------------------------------------
# What sources produce


@dataclass(frozen=True)
class SourceEntry:
    """One time entry as a tracker has it, before mapping to a workspace client."""

    system: str
    source_id: str
    date: date
    person: str
    project_id: str
    project_name: str
    hours: Decimal
    billable: bool
    client_id: str = ""
    client_name: str = ""
    project_code: str = ""
    task: str = ""
    notes: str = ""
    start: time | None = None
    end: time | None = None
    task_ref: str | None = None
    person_keys: tuple[str, ...] = ()
    """Other names of the person in the source (user id, email), for the people mapping."""
    approved: bool | None = None
    """Approved through the tracker's timesheet approval (Harvest `is_closed`); None when it has none."""
    running: bool = False
    updated_at: datetime | None = None

    @property
    def row_id(self) -> str:
        return f"{self.system}-{self.source_id}"


@dataclass(frozen=True)
class SourceTask:
    """One task as a project tool has it: status, completion date, project, stage and milestone amount."""

    system: str
    source_id: str
    key: str
    """The id it gets in tasks.csv: the Jira issue key; `asana-<gid>`; `clickup-<id>`."""
    title: str
    project_id: str
    project_name: str
    done: bool
    completed_at: date | None = None
    milestone_amount: Decimal | None = None
    assignee: str = ""
    stage: str = ""
    """Where the task sits in its workflow: the Asana section, the ClickUp or Jira status name."""
    project_key: str = ""
    client_name: str = ""
    updated_at: datetime | None = None
    other_projects: tuple[tuple[str, str], ...] = ()
    """Further (id, name) projects the task belongs to (an Asana task can live in several)."""


@dataclass(frozen=True)
class SourceProject:
    """A project of the source, for `invoice-agent sources map`."""

    id: str
    name: str
    client_id: str = ""
    client_name: str = ""
    code: str = ""


@dataclass
class EntryBatch:
    """What one fetch returned. `complete` means: every entry dated in `window` is here (so an entry of
    this source dated in the window and missing from the batch was deleted at the source)."""

    entries: list[SourceEntry] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    """Source ids the source itself reported deleted (Toggl's `server_deleted_at`)."""
    complete: bool = False
    window: tuple[date, date] | None = None


@dataclass
class TaskBatch:
    tasks: list[SourceTask] = field(default_factory=list)
    complete: bool = False
    """Every task of the fetched projects is here (so a task of these projects missing was deleted)."""
    projects: tuple[str, ...] = ()


@runtime_checkable
class TimeSource(Protocol):
    """A time tracker: entries of a date window, optionally only those changed since a moment."""

    system: str
    incremental: bool
    """Whether `updated_since` is honoured by the API (Clockify has no such filter)."""

    def fetch_entries(self, start: date, end: date, *, updated_since: datetime | None = None) -> EntryBatch: ...

    def count_entries(self, start: date, end: date) -> int | None:
        """How many entries the source has in the window, if it can say so cheaply (else None)."""
        ...

    def list_projects(self) -> list[SourceProject]: ...

    def close(self) -> None: ...


@runtime_checkable
class TaskSource(Protocol):
    """A project tool: tasks of the mapped projects, one task by id (for webhooks)."""

    system: str

    def fetch_tasks(self, projects: list[str], *, updated_since: datetime | None = None) -> TaskBatch: ...

    def get_task(self, task_id: str) -> SourceTask: ...

    def list_projects(self) -> list[SourceProject]: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------------------------------
# Numbers, durations, dates

_HOURS_PLACES = Decimal("0.000001")


def plain(value: Decimal) -> str:
    """A decimal as the workspace writes it: no exponent, no trailing zeros ("1.5", "6", "0.25")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def hours_from_seconds(seconds: int) -> Decimal:
    """Exact decimal hours of a whole number of seconds.

    seconds/3600 is a finite decimal exactly when 9 divides `seconds` (3600 = 2^4 * 3^2 * 5^2); it then has
    at most 4 places. Otherwise the hours are cut (never rounded up) at 6 places, less than 4 ms short:
    cutting keeps an entry on the right side of every "round up to N minutes" boundary (1/60 h = 0.016666...
    must not become 0.016667, which would round up to 2 minutes).
    """
    hours = Decimal(seconds) / Decimal(3600)
    return hours if seconds % 9 == 0 else hours.quantize(_HOURS_PLACES, rounding=ROUND_DOWN)


_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def seconds_from_iso_duration(text: str) -> int | None:
    """`PT2H54M` → 10440; None when it is not an ISO-8601 duration (Clockify's v1 format)."""
    match = _ISO_DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (match.group(i) for i in range(1, 5))
    total = Decimal(days or 0) * 86400 + Decimal(hours or 0) * 3600 + Decimal(minutes or 0) * 60
    total += Decimal(seconds or 0)
    return int(total)


def seconds_from_hms(text: str) -> int | None:
    """`08:00:00` or `1:30` (hours:minutes[:seconds]) → seconds; None when it is not that shape."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    if numbers[1] >= 60 or numbers[2] >= 60:
        return None
    return numbers[0] * 3600 + numbers[1] * 60 + numbers[2]


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 / RFC 3339 timestamp with an offset ("Z", "+00:00", "+0000", milliseconds...)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    match = re.match(r"^(.*[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2})(\d{2})$", value)
    if match:  # Jira: +0000 (no colon)
        value = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def local_span(start: datetime, end: datetime | None, zone: tzinfo) -> tuple[date, time | None, time | None]:
    """The local date of an entry and its HH:MM start/end; no times when the entry crosses midnight."""
    first = start.astimezone(zone)
    if end is None:
        return first.date(), None, None
    last = end.astimezone(zone)
    if last.date() != first.date() or last < first:
        return first.date(), None, None
    return first.date(), first.time().replace(second=0, microsecond=0), last.time().replace(second=0, microsecond=0)


def month_windows(start: date, end: date) -> Iterator[tuple[date, date]]:
    """Calendar-month slices of [start, end] (both ends included)."""
    first = start
    while first <= end:
        next_month = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = min(end, next_month - timedelta(days=1))
        yield first, last
        first = last + timedelta(days=1)


# ----------------------------------------------------------------------------------------------------
# Reading a payload, naming the field in every error


class Fields:
    """One JSON object of a payload; `where` is its path ("time_entries[3]"), used in every error."""

    def __init__(self, system: str, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise SourcePayloadError(system, where, f"expected an object, got {_kind(data)}")
        self.system = system
        self.data: dict[str, Any] = data
        self.where = where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> SourcePayloadError:
        return SourcePayloadError(self.system, self.path(key), message)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, *, required: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise self.error(key, "missing" if key not in self.data else "is null")
        return value

    def child(self, key: str, *, required: bool = False) -> Fields | None:
        value = self.raw(key, required=required)
        return None if value is None else Fields(self.system, value, self.path(key))

    def items(self, key: str, *, required: bool = False) -> list[Fields]:
        value = self.raw(key, required=required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_kind(value)}")
        return [Fields(self.system, item, f"{self.path(key)}[{i}]") for i, item in enumerate(value)]

    def id(self, key: str, *, required: bool = True) -> str:
        value = self.raw(key, required=required)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise self.error(key, f"expected an id (number or string), got {_kind(value)}")
        text = str(value).strip()
        if required and not text:
            raise self.error(key, "is empty")
        return text

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.raw(key, required=required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(key, f"expected text, got {_kind(value)}")
        return value

    def boolean(self, key: str, *, required: bool = True, default: bool = False) -> bool:
        value = self.raw(key, required=required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, *, required: bool = True) -> int | None:
        value = self.raw(key, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, Decimal) and value == value.to_integral_value():
                return int(value)
            raise self.error(key, f"expected a whole number, got {value!r}")
        return value

    def decimal(self, key: str, *, required: bool = False) -> Decimal | None:
        value = self.raw(key, required=required)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.error(key, f"expected a number, got {value!r}")
        if isinstance(value, int | Decimal):
            return Decimal(value)
        if isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", ""))
            except InvalidOperation:
                raise self.error(key, f"expected a number, got {value!r}") from None
            if number.is_finite():
                return number
        raise self.error(key, f"expected a number, got {value!r}")

    def day(self, key: str, *, required: bool = True) -> date | None:
        value = self.text(key, required=required)
        if not value:
            return None
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
        except ValueError:
            raise self.error(key, f"expected a date YYYY-MM-DD, got {value!r}") from None

    def timestamp(self, key: str, *, required: bool = True) -> datetime | None:
        value = self.text(key, required=required)
        if not value:
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            raise self.error(key, f"expected an ISO-8601 timestamp with an offset, got {value!r}")
        return parsed

    def epoch_ms(self, key: str, *, required: bool = False) -> datetime | None:
        """ClickUp dates: Unix milliseconds, as a string or a number."""
        value = self.raw(key, required=required)
        if value is None or value == "":
            return None
        try:
            millis = int(str(value))
        except ValueError:
            raise self.error(key, f"expected Unix milliseconds, got {value!r}") from None
        return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(type(value), "a number")


def decode_json(system: str, content: bytes, where: str = "response") -> Any:
    """JSON with every non-integer number as an exact Decimal; an empty body is None."""
    if not content.strip():
        return None
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourcePayloadError(system, where, f"not valid JSON ({exc})") from None


def list_of(system: str, data: Any, where: str) -> list[Fields]:
    if not isinstance(data, list):
        raise SourcePayloadError(system, where, f"expected a list, got {_kind(data)}")
    return [Fields(system, item, f"{where}[{i}]") for i, item in enumerate(data)]


# ----------------------------------------------------------------------------------------------------
# HTTP with retries

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Retryable(Exception):
    def __init__(self, status: int | None, detail: str, retry_after: float | None) -> None:
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail)


class HttpApi:
    """An httpx client for one system, with bounded retries (tenacity) and clear errors.

    Args:
        system: "harvest", "toggl", ... (named in every error).
        base_url: the API root; relative paths are joined to it, absolute URLs (a `links.next`) are used as is.
        headers: auth and identification headers (`Authorization`, `Harvest-Account-Id`, `User-Agent`, ...).
        settings_hint: the settings to check when the credentials are refused (named in the 401 message).
        auth: httpx auth (Basic auth for Toggl and Jira).
        transport: an httpx transport (tests: `httpx.MockTransport`); default: the network.
        attempts: tries per request, the first included.
        max_wait: the longest single wait; a `Retry-After` above it is not waited for (the error says when
            to try again).
        sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        settings_hint: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        self.system = system
        self.settings_hint = settings_hint
        self.attempts = max(1, attempts)
        self.max_wait = max_wait
        self._sleep = sleep
        self._origin = httpx.URL(base_url).copy_with(path="/", query=None, fragment=None)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Accept": "application/json", **headers},
            auth=auth,
            transport=transport,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return decode_json(self.system, self.request("GET", url, params=params).content, f"GET {_short(url)}")

    def post(self, url: str, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        return decode_json(self.system, self.request("POST", url, params=params, json=body).content,
                           f"POST {_short(url)}")

    def request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> httpx.Response:
        absolute = url.startswith(("http://", "https://"))
        target = url if absolute else url.lstrip("/")
        if absolute and httpx.URL(url).copy_with(path="/", query=None, fragment=None) != self._origin:
            # a `links.next` pointing elsewhere would carry the credentials there
            raise SourcePayloadError(self.system, "next page link", f"{_short(url)} is not on {self._origin}")
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, target, params, json)
        except _Retryable as exc:
            raise self._gave_up(exc, method, url) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, body: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, params=dict(params) if params else None, json=body)
        except httpx.TransportError as exc:
            raise _Retryable(None, f"{type(exc).__name__}: {exc}", None) from None
        status = response.status_code
        if status < 300:
            return response
        detail = error_detail(response)
        if status in _RETRY_STATUSES:
            wait = retry_after(response)
            if wait is not None and wait > self.max_wait:  # an hourly quota: do not sit on it
                raise SourceRateLimitedError(
                    self.system,
                    f"{system_name(self.system)} rate limit reached (HTTP {status}); it asks to wait "
                    f"{wait:.0f} s, longer than the {self.max_wait:.0f} s this client waits: try again later",
                    retry_after=wait,
                )
            raise _Retryable(status, detail, wait)
        if status in (401, 403):
            raise SourceAuthError(self.system, status, detail, self.settings_hint)
        where = f"{method} {_short(str(response.request.url))}"
        if status == 404:
            raise SourceNotFoundError(self.system, status, detail, where)
        raise SourceRequestError(self.system, status, detail, where)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return max(0.0, exc.retry_after)
        return float(wait_exponential(multiplier=1, min=1, max=min(30.0, self.max_wait))(state))

    def _gave_up(self, exc: _Retryable, method: str, url: str) -> Exception:
        name = system_name(self.system)
        tries = f"after {self.attempts} tries"
        if exc.status == 429:
            return SourceRateLimitedError(
                self.system, f"{name} kept answering 429 Too Many Requests {tries} ({method} {_short(url)}); "
                f"its rate limit is reached: try again in a few minutes", retry_after=exc.retry_after)
        what = f"HTTP {exc.status}" if exc.status else "no connection"
        detail = f": {exc.detail}" if exc.detail else ""
        return SourceUnavailableError(self.system, f"{name} is unavailable ({what}{detail}) {tries} "
                                      f"({method} {_short(url)}); try again later")


def _short(url: str) -> str:
    return url.split("?", 1)[0]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (ClickUp: Unix time)."""
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return None
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and reset.strip().isdigit():
        value = int(reset.strip())
        if value > 10**12:  # milliseconds
            value //= 1000
        return max(0.0, value - _time.time())
    return None


def error_detail(response: httpx.Response) -> str:
    """The error message as each API words it (Harvest, Toggl, Clockify, Asana, ClickUp, Jira shapes)."""
    try:
        data = json.loads(response.content) if response.content.strip() else None
    except ValueError:
        text = response.text.strip()
        return "" if text.startswith("<") else text[:200]
    if isinstance(data, str):  # Toggl: a bare JSON string
        return data[:200]
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    for key in ("error_description", "message", "err", "error"):
        value = data.get(key)
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    errors = data.get("errors")
    if isinstance(errors, list):  # Asana
        parts += [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    elif isinstance(errors, dict):  # Jira
        parts += [f"{k}: {v}" for k, v in errors.items()]
    messages = data.get("errorMessages")
    if isinstance(messages, list):
        parts += [str(m) for m in messages]
    code = data.get("ECODE") or data.get("code")
    if code is not None and parts:
        parts[-1] += f" ({code})"
    return "; ".join(parts)[:300]
