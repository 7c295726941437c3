"""What one client may cost the server: how big a body it sends, and how often it may fail to authenticate.

    install(app, settings)        # api.app.create_app: both middlewares, and their answers in the document

**Body size.** A body larger than `Settings.max_body_bytes` (1 MiB by default; INVOICE_AGENT_MAX_BODY_BYTES)
is answered 413 `content_too_large` before anything parses it: at once when its Content-Length says so,
and otherwise (a chunked body) as soon as the bytes read go past the limit; the rest is never read.

**Failed authentication.** A request presents a token when it has an Authorization header, or posts the
review pages' sign-in form. Each one answered 401 counts as a failure of its client address; an address
with `auth_failures_max` failures in the last `auth_failures_window` seconds (10 a minute by default) is
answered 429 `too_many_requests`, with Retry-After, for every token it presents, without the token being
checked, until its oldest failure leaves the window. An address that authenticates (a live token, or a
sign-in) is forgiven its earlier failures; nobody else's are touched. A request without a token is never
held back (it checks nothing).

The counts are kept in this process, in memory (a lock makes them safe across threads): behind several
servers each counts its own, so an address gets up to `auth_failures_max` failures per server and window,
and a restart forgets them. The address is the client's as the server sees it: behind a reverse proxy run
uvicorn with --proxy-headers and --forwarded-allow-ips (`invoice-agent serve` trusts X-Forwarded-For from
127.0.0.1 only), or every client counts as the proxy.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import ATTEMPT, Attempt
from api.routers import review
from api.schemas import ErrorPublic
from api.settings import Settings

__all__ = ["AuthFailures", "AuthThrottle", "BodyLimit", "install"]

SIGN_IN = review.PREFIX + "/login"
"""The review pages' sign-in form: posting it presents a token, like an Authorization header."""
MAX_ADDRESSES = 10_000
"""Addresses whose failures are remembered at most; past it, those that failed longest ago are forgotten."""


def install(app: FastAPI, settings: Settings) -> None:
    """Limit `app`'s request bodies and failed authentications by `settings`, and document both answers.

    The counts are `app.state.auth_failures`. The throttle is the outer middleware: a held-back address is
    answered before its body is read."""
    app.state.auth_failures = AuthFailures(settings.auth_failures_max, settings.auth_failures_window)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthThrottle, failures=app.state.auth_failures)
    _document(app)


# --- the size of a body ---------------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """Raised into the app by the reading of a body past the limit; the app's own answer is replaced by 413."""


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` are answered 413 and read no further."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, f"the body is {declared} bytes")
            return
        read = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal read, too_large
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def unless_too_large(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return  # the app's answer to a body it could not finish reading: 413 goes out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_too_large)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send, f"the body is over {self.max_bytes} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        detail = f"{what}; this server takes at most {self.max_bytes} (INVOICE_AGENT_MAX_BODY_BYTES)"
        response = _error(413, "content_too_large", detail, {"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


# --- failed authentication ------------------------------------------------------------------------------


class AuthFailures:
    """Failed authentications per client address over a sliding window; safe to share between threads."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 max_addresses: int = MAX_ADDRESSES) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_addresses = max_addresses
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        """Each address's latest failures (at most `limit`, newest last); the address failing last, last."""

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may present a token again; 0 if it may now."""
        with self._lock:
            times = self._failures.get(address)
            if times is None or len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - self.clock())

    def failed(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._failures.pop(address, None) or deque(maxlen=self.limit)
            times.append(now)
            self._failures[address] = times
            # Addresses are in the order they last failed: forget those whose failures all left the window.
            while True:
                first, first_times = next(iter(self._failures.items()))
                if first_times[-1] + self.window > now and len(self._failures) <= self.max_addresses:
                    break
                del self._failures[first]

    def succeeded(self, address: str) -> None:
        """The address authenticated: its earlier failures are forgiven (another address's are not)."""
        with self._lock:
            self._failures.pop(address, None)


class AuthThrottle:
    """ASGI middleware: counts the failures of requests that present a token, and holds back addresses
    with too many (429, their token unchecked)."""

    def __init__(self, app: ASGIApp, failures: AuthFailures) -> None:
        self.app = app
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _presents_token(scope):
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.failures.retry_after(address)
        if wait > 0:
            await _held_back(scope, math.ceil(wait))(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        attempt = Attempt()
        reset = ATTEMPT.set(attempt)
        try:
            await self.app(scope, receive, watch)
        finally:
            ATTEMPT.reset(reset)
        if status == 401:
            self.failures.failed(address)
        elif attempt.authenticated or (_signs_in(scope) and status == 303):
            self.failures.succeeded(address)


def _signs_in(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"] == SIGN_IN)


def _presents_token(scope: Scope) -> bool:
    return _signs_in(scope) or any(name == b"authorization" for name, _ in scope["headers"])


def _held_back(scope: Scope, seconds: int) -> Response:
    headers = {"Retry-After": str(seconds)}
    if _signs_in(scope):
        return review.templates.TemplateResponse(
            Request(scope), "error.html", {"prefix": review.PREFIX, "message": (
                f"Too many failed sign-ins from this address: try again in {seconds} seconds.")},
            status_code=429, headers={**review.HEADERS, **headers})
    return _error(429, "too_many_requests",
                  f"too many failed authentications from this address: try again in {seconds} seconds", headers)


def _error(status: int, code: str, detail: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(ErrorPublic(error=code, detail=detail).model_dump(mode="json", exclude_none=True),
                        status_code=status, headers=headers)


# --- the OpenAPI document -------------------------------------------------------------------------------

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}
TOO_LARGE = {"description": "The body is larger than the server takes (INVOICE_AGENT_MAX_BODY_BYTES)",
             "content": _ERROR}
TOO_MANY = {"description": "Too many failed authentications from this address: try again after Retry-After "
                           "seconds (the token was not checked)",
            "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
            "content": _ERROR}


def _document(app: FastAPI) -> None:
    """Add the two answers to the document: 413 where an operation takes a body, 429 where it needs a token."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("413", copy.deepcopy(TOO_LARGE))
                    if operation.get("security"):
                        operation["responses"].setdefault("429", copy.deepcopy(TOO_MANY))
        return build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend the document
