"""What one client may cost the server: bodies have a maximum size, failed authentications slow an address
down, tokens may expire, and signing out ends the session on the server too (issue 14)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.cli import main
from api.limits import AuthFailures
from api.settings import Settings
from tests.api.conftest import Api
from tools.store import Store
from tools.store.tokens import ApiTokens, hash_token, parse_duration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG = {"Authorization": "Bearer iat_not-a-token"}


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client: TestClient, token: str) -> Any:
    """Post the sign-in form as a browser does (open it, paste the token); the answer, not followed."""
    form = client.get("/review/login")
    return client.post("/review/login", data={"token": token, "csrf_token": csrf_of(form.text)},
                       follow_redirects=False)


def inbox(api: Api, cookie: str) -> int:
    """The status of the inbox for a browser that sends this session cookie (303: to the sign-in form)."""
    return TestClient(api.app).get("/review", headers={"Cookie": f"invoice_agent_session={cookie}"},
                                   follow_redirects=False).status_code


def post_in_chunks(app: FastAPI, path: str, chunks: list[bytes],
                   headers: dict[str, str] | None = None) -> tuple[int, bytes, int]:
    """POST a body as chunks with no Content-Length, straight into the ASGI app: the status, the answer's
    body, and how many chunks the app read."""
    read = 0
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read == len(chunks):
            await asyncio.sleep(3600)  # the client waits for the answer
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": ("192.0.2.1", 4000), "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked"),
                         *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    [start] = [m for m in answer if m["type"] == "http.response.start"]
    return start["status"], b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body"), read


@pytest.fixture
def limited(make_api: Callable[..., Api], settings: Settings) -> Callable[..., Api]:
    """An app whose settings are the test's with these changes."""
    def make(**changes: Any) -> Api:
        return make_api(settings=settings.model_copy(update=changes))
    return make


# --- 1. the size of a body ------------------------------------------------------------------------------


def test_a_body_over_one_megabyte_is_refused_413_before_it_is_parsed_or_its_token_checked(api: Api) -> None:
    too_big = b'"' + b"x" * (1024 * 1024 - 1) + b'"'  # JSON, but not a request: a parser would answer 422

    for headers in (api.approver, {}, WRONG):
        response = api.client.post("/runs", content=too_big, headers={**headers, "Content-Type": "application/json"})

        assert response.status_code == 413
        assert response.json() == {
            "error": "content_too_large",
            "detail": "the body is 1048577 bytes; this server takes at most 1048576 "
                      "(INVOICE_AGENT_MAX_BODY_BYTES)"}
    just_enough = api.client.post("/runs", content=b'"' + b"x" * (1024 * 1024 - 2) + b'"', headers={
        **api.approver, "Content-Type": "application/json"})
    assert just_enough.status_code == 422  # read and parsed, as before


def test_the_maximum_body_size_is_a_setting(limited: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_AGENT_MAX_BODY_BYTES", "2048")
    assert Settings().max_body_bytes == 2048
    api = limited(max_body_bytes=100)

    response = api.client.post("/runs", json={"text": "invoice Acme for March " + "x" * 100}, headers=api.approver)

    assert response.status_code == 413 and "at most 100 " in response.json()["detail"]


def test_a_chunked_body_without_content_length_is_counted_as_it_streams_and_no_more_is_read(api: Api) -> None:
    chunks = [b"x" * 65536] * 800  # 50 MB, 64 KiB at a time; 1 MiB is 16 of them

    status, body, read = post_in_chunks(api.app, "/runs", chunks, api.approver)

    assert status == 413 and b'"content_too_large"' in body
    assert read == 17  # the chunk that went over the limit, and not one more


# --- 2. failed authentication slows an address down -----------------------------------------------------


def test_after_ten_wrong_tokens_an_address_is_answered_429_without_its_token_being_checked(api: Api) -> None:
    answers = [api.client.get("/me", headers=WRONG) for _ in range(300)]

    assert [r.status_code for r in answers[:10]] == [401] * 10
    assert {r.status_code for r in answers[10:]} == {429}
    assert answers[10].json() == {
        "error": "too_many_requests",
        "detail": "too many failed authentications from this address: try again in "
                  f"{answers[10].headers['retry-after']} seconds"}
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60
    assert api.client.get("/me", headers=api.approver).status_code == 429  # even a good token waits
    assert api.client.get("/health").status_code == 200  # a request with no token checks nothing


def test_a_success_from_one_address_does_not_forgive_another_addresss_failures(api: Api) -> None:
    guesser = TestClient(api.app, client=("203.0.113.7", 50000))
    colleague = TestClient(api.app, client=("198.51.100.2", 50000))

    first = [guesser.get("/approvals", headers=WRONG).status_code for _ in range(9)]
    colleague_ok = colleague.get("/me", headers=api.approver).status_code
    then = [guesser.get("/approvals", headers=WRONG).status_code for _ in range(2)]

    assert first == [401] * 9 and colleague_ok == 200 and then == [401, 429]
    assert colleague.get("/me", headers=api.viewer).status_code == 200


def test_an_address_that_signs_in_is_forgiven_its_earlier_mistakes(api: Api) -> None:
    typos = [api.client.get("/me", headers=WRONG).status_code for _ in range(9)]
    right = api.client.get("/me", headers=api.approver).status_code
    more = [api.client.get("/me", headers=WRONG).status_code for _ in range(10)]

    assert typos == [401] * 9 and right == 200 and more == [401] * 10
    assert api.client.get("/me", headers=WRONG).status_code == 429


def test_an_address_may_try_again_once_its_failures_leave_the_window(limited: Callable[..., Api]) -> None:
    api = limited(auth_failures_max=3, auth_failures_window=0.5)

    failed = [api.client.get("/me", headers=WRONG).status_code for _ in range(4)]
    time.sleep(0.6)

    assert failed == [401, 401, 401, 429]
    assert api.client.get("/me", headers=api.approver).status_code == 200


def test_the_review_sign_in_form_is_slowed_down_the_same_way(api: Api) -> None:
    wrong = [sign_in(api.client, "iat_nope").status_code for _ in range(10)]

    refused = sign_in(api.client, secret_of(api.approver))

    assert wrong == [401] * 10
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"].startswith("text/html") and "Too many failed sign-ins" in refused.text
    assert "invoice_agent_session" not in str(refused.headers)
    assert api.client.get("/me", headers=api.approver).status_code == 429  # one count per address


# --- 3. tokens that expire ------------------------------------------------------------------------------


def test_an_expired_token_is_refused_401_with_when_and_how_to_get_a_new_one(api: Api) -> None:
    old, _ = api.service.tokens.create("viewer", "temp@firm", expires_in=timedelta(days=30),
                                       now=datetime(2020, 1, 1, 9, 30, tzinfo=UTC))
    fresh, _ = api.service.tokens.create("viewer", "temp@firm", expires_in=timedelta(days=30))

    refused = api.client.get("/me", headers={"Authorization": f"Bearer {old}"})

    assert refused.status_code == 401
    assert refused.json() == {"error": "unauthorized", "detail": "token expired on 2020-01-31 09:30 UTC, create a new "
                              "one with 'invoice-agent token create'"}
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert api.client.get("/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_token_create_expires_in_and_token_list_shows_each_tokens_expiry(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    data = str(settings.data_dir)
    assert main(["token", "create", "--role", "approver", "--label", "x@firm", "--expires-in", "30d",
                 "--data", data]) == 0
    assert main(["token", "create", "--role", "viewer", "--label", "forever@firm", "--data", data]) == 0
    err = capsys.readouterr().err
    in_30_days = datetime.now(UTC) + timedelta(days=30)

    assert main(["token", "list", "--data", data]) == 0
    listed = capsys.readouterr().out.splitlines()

    assert f"expires {in_30_days:%Y-%m-%d}" in err
    [x, forever] = listed
    assert "x@firm" in x and f"expires {in_30_days:%Y-%m-%d}" in x and x.endswith("live")
    assert "forever@firm" in forever and "expires never" in forever


def test_the_default_expiry_is_a_setting_and_never_overrides_it(
    capsys: pytest.CaptureFixture[str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(settings.data_dir)
    monkeypatch.setenv("INVOICE_AGENT_TOKEN_EXPIRES_IN", "12h")
    assert main(["token", "create", "--role", "viewer", "--label", "a@firm", "--data", data]) == 0
    assert main(["token", "create", "--role", "viewer", "--label", "b@firm", "--expires-in", "never",
                 "--data", data]) == 0
    capsys.readouterr()

    main(["token", "list", "--data", data])
    [a, b] = capsys.readouterr().out.splitlines()

    assert f"expires {datetime.now(UTC) + timedelta(hours=12):%Y-%m-%d}" in a and "expires never" in b
    with pytest.raises(SystemExit):
        main(["token", "create", "--role", "viewer", "--expires-in", "soon", "--data", data])
    assert "a duration such as 30d, 12h or 90m" in capsys.readouterr().err


# --- 4. sessions kept on the server ---------------------------------------------------------------------


def test_after_signing_out_replaying_the_old_session_cookie_is_signed_out(api: Api) -> None:
    browser, other = TestClient(api.app), TestClient(api.app)
    sign_in(browser, secret_of(api.approver))
    sign_in(other, secret_of(api.approver))
    cookie = browser.cookies["invoice_agent_session"]
    page = browser.get("/review")
    forged = browser.post("/review/logout", data={"csrf_token": "from-elsewhere"}, follow_redirects=False)
    assert forged.status_code == 403 and inbox(api, cookie) == 200  # a forged sign-out ends nothing

    out = browser.post("/review/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)

    assert out.status_code == 303
    assert inbox(api, cookie) == 303
    assert inbox(api, other.cookies["invoice_agent_session"]) == 200  # one browser's sign-out, not the token's


def test_the_session_of_a_token_that_expires_ends_with_it(api: Api) -> None:
    secret, _ = api.service.tokens.create("approver", "temp@firm", expires_in=timedelta(hours=1))
    browser = TestClient(api.app)
    assert sign_in(browser, secret).status_code == 303
    cookie = browser.cookies["invoice_agent_session"]
    assert inbox(api, cookie) == 200

    store = api.service.store
    in_two_hours = store._clock() + timedelta(hours=2)
    store._clock = lambda: in_two_hours

    assert inbox(api, cookie) == 303


def test_revoking_a_token_ends_every_session_it_signed_in_in_the_store(api: Api) -> None:
    first, second = TestClient(api.app), TestClient(api.app)
    sign_in(first, secret_of(api.viewer))
    sign_in(second, secret_of(api.viewer))
    viewer_id = next(t.id for t in api.service.tokens.list() if t.label == "vic@firm")

    api.service.tokens.revoke(viewer_id)

    with api.service.store.engine.connect() as conn:
        ended = conn.execute(text("SELECT ended_at FROM review_sessions WHERE token_id = :id"),
                             {"id": viewer_id}).scalars().all()
    assert len(ended) == 2 and None not in ended
    assert inbox(api, first.cookies["invoice_agent_session"]) == 303


def test_the_store_keeps_a_hash_of_the_session_never_the_cookie(api: Api) -> None:
    browser = TestClient(api.app)
    sign_in(browser, secret_of(api.approver))
    token_id, _, nonce, _ = browser.cookies["invoice_agent_session"].split(".")

    with api.service.store.engine.connect() as conn:
        [row] = conn.execute(text("SELECT * FROM review_sessions")).mappings().all()

    assert row["id"] == hashlib.sha256(nonce.encode()).hexdigest() and row["token_id"] == token_id
    assert nonce not in {str(value) for value in row.values()}


# --- the pieces -----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_are_counted_over_a_sliding_window_per_address() -> None:
    clock = Clock()
    failures = AuthFailures(3, 60.0, clock=clock)

    for at in (0, 10, 20):
        clock.now = 1000.0 + at
        failures.failed("a")

    assert failures.retry_after("a") == 40.0 and failures.retry_after("b") == 0.0
    clock.now = 1060.5  # the first failure left the window: one more try
    assert failures.retry_after("a") == 0.0
    failures.failed("a")
    assert failures.retry_after("a") == 9.5  # until the second one leaves
    failures.succeeded("a")
    assert failures.retry_after("a") == 0.0


def test_failures_counted_from_many_threads_at_once_are_all_counted() -> None:
    failures = AuthFailures(8000, 60.0)
    crashed: list[BaseException] = []

    def fail() -> None:
        try:
            for _ in range(250):
                failures.failed("203.0.113.7")
                failures.retry_after("203.0.113.7")
        except Exception as exc:
            crashed.append(exc)

    threads = [threading.Thread(target=fail) for _ in range(32)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows up at once
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert crashed == [] and failures.retry_after("203.0.113.7") > 0  # 32 x 250: exactly the limit


def test_addresses_whose_failures_left_the_window_or_past_the_most_kept_are_forgotten() -> None:
    clock = Clock()
    failures = AuthFailures(1, 60.0, clock=clock, max_addresses=3)
    for address in ("a", "b", "c", "d"):
        failures.failed(address)

    assert [failures.retry_after(a) > 0 for a in "abcd"] == [False, True, True, True]  # "a" failed longest ago
    clock.now += 61
    failures.failed("e")
    assert len(failures._failures) == 1


@pytest.mark.parametrize(("text", "duration"), [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
    ("2w", timedelta(weeks=2)), (" 7D ", timedelta(days=7)), ("never", None)])
def test_a_token_lifetime_is_written_as_a_number_and_a_unit_or_never(text: str, duration: timedelta | None) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "1.5d", "30 days", "soon"])
def test_anything_else_is_not_a_token_lifetime(text: str) -> None:
    with pytest.raises(ValueError, match="a duration such as 30d, 12h or 90m"):
        parse_duration(text)


def test_migrating_from_0005_keeps_every_token_without_an_expiry(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'old.db'}") as store:
        store.migrate("0005_draft_reviews")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO api_tokens (id, token_hash, role, label, created_at) "
                              "VALUES ('t1', :hash, 'approver', 'ann@firm', '2026-01-01 00:00:00')"),
                         {"hash": hash_token("iat_old-token")})

        store.migrate()
        token = ApiTokens(store).authenticate("iat_old-token")

    assert token is not None and token.label == "ann@firm" and token.expires_at is None


def test_the_document_gives_413_where_a_body_is_taken_and_429_where_a_token_is_needed(api: Api) -> None:
    document = api.app.openapi()
    operations = [op for item in document["paths"].values() for op in item.values()]

    for op in operations:
        assert ("413" in op["responses"]) == ("requestBody" in op)
        assert ("429" in op["responses"]) == bool(op.get("security"))
    start = document["paths"]["/runs"]["post"]["responses"]
    assert start["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorPublic")
    assert start["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "429" not in document["paths"]["/health"]["get"]["responses"]
