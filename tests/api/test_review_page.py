"""The review page: sign in once, the inbox, one draft with its lines and anomalies, and the three decisions.

Each decision goes through the same path as POST /approvals/...: the same audit log, the token's label as
who decided, and "already decided" refused without a second push.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from agent.testing import ScriptedModel, call, turn
from api.settings import Settings
from tests.api.conftest import Api
from tests.api.test_app_approvals import outbox

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client: TestClient, headers: dict[str, str], then: str = "/review") -> tuple[str, list[str]]:
    """Sign in as a person does: open the form, paste the token, submit. Where it went, and the cookies set."""
    form = client.get("/review/login", params={"next": then})
    signed = client.post("/review/login", data={"token": secret_of(headers), "csrf_token": csrf_of(form.text),
                                                "next": then}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return signed.headers["location"], signed.headers.get_list("set-cookie")


def signed_in(api: Api, headers: dict[str, str]) -> TestClient:
    """A browser of its own (its own cookies), signed in with the token in `headers`."""
    client = TestClient(api.app)
    sign_in(client, headers)
    return client


def row(html: str, entry_id: str) -> str:
    found = re.search(rf'<tr class="([a-z]*)" id="entry-{entry_id}">(.*?)</tr>(.*?)(?=<tr class="[a-z]*" id=|</tbody>)',
                      html, re.S)
    assert found, f"no row for {entry_id}"
    return f"{found.group(1)}|{found.group(2)}|{found.group(3)}"


# --- signing in -----------------------------------------------------------------------------------------


def test_signing_in_sets_an_http_only_lax_session_cookie_that_holds_no_token(api: Api) -> None:
    location, cookies = sign_in(api.client, api.approver)

    assert location == "/review"
    [cookie] = [c for c in cookies if c.startswith("invoice_agent_session=")]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/review" in cookie
    assert "Secure" not in cookie  # served over http here: a Secure cookie would never come back
    assert secret_of(api.approver) not in cookie and "iat_" not in cookie
    inbox = api.client.get("/review")
    assert inbox.status_code == 200 and "ann@firm" in inbox.text and "approver" in inbox.text
    assert inbox.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in inbox.headers[
        "content-security-policy"] and inbox.headers["cache-control"] == "no-store"


def test_over_https_the_session_cookie_is_secure(make_api: Callable[..., Api], settings: Settings) -> None:
    api = make_api(settings=settings.model_copy(update={"public_url": "https://invoices.test"}))

    _, cookies = sign_in(TestClient(api.app, base_url="https://invoices.test"), api.approver)

    assert any(c.startswith("invoice_agent_session=") and "Secure" in c for c in cookies)


def test_an_unknown_token_or_a_sign_in_form_from_elsewhere_is_refused(api: Api) -> None:
    form = api.client.get("/review/login")
    unknown = api.client.post("/review/login", data={"token": "iat_nope", "csrf_token": csrf_of(form.text)})
    forged = TestClient(api.app).post("/review/login", data={"token": secret_of(api.approver),
                                                             "csrf_token": csrf_of(form.text)})

    assert unknown.status_code == 401 and "unknown or was revoked" in unknown.text
    assert forged.status_code == 403 and "did not come from this site" in forged.text
    assert "invoice_agent_session" not in str(unknown.headers) + str(forged.headers)


def test_every_page_needs_a_session_and_signing_in_leads_back_to_the_link(api: Api) -> None:
    run_id = api.waiting_run()

    inbox = api.client.get("/review", follow_redirects=False)
    draft = api.client.get(f"/review/{run_id}", follow_redirects=False)
    signed = sign_in(api.client, api.approver, then=f"/review/{run_id}")
    elsewhere = sign_in(TestClient(api.app), api.approver, then="https://evil.example/review")

    assert inbox.status_code == 303 and inbox.headers["location"] == "/review/login?next=/review"
    assert draft.status_code == 303 and draft.headers["location"] == f"/review/login?next=/review/{run_id}"
    assert signed[0] == f"/review/{run_id}"
    assert elsewhere[0] == "/review"


def test_a_forged_or_expired_cookie_or_a_revoked_token_is_signed_out(api: Api) -> None:
    client = signed_in(api, api.approver)
    value = client.cookies["invoice_agent_session"]
    token_id, issued, nonce, mac = value.split(".")
    viewer_id = next(t.id for t in api.service.tokens.list() if t.label == "vic@firm")


    def inbox(cookie: str) -> int:
        return TestClient(api.app).get("/review", headers={"Cookie": f"invoice_agent_session={cookie}"},
                                       follow_redirects=False).status_code

    assert inbox(value) == 200
    forged = [f"{viewer_id}.{issued}.{nonce}.{mac}", f"{token_id}.{int(issued) - 1}.{nonce}.{mac}",
              secret_of(api.approver), ""]
    assert [inbox(cookie) for cookie in forged] == [303] * len(forged)
    api.service.tokens.revoke(token_id)
    assert inbox(value) == 303


def test_signing_out_ends_the_session(api: Api) -> None:
    client = signed_in(api, api.approver)
    page = client.get("/review")

    out = client.post("/review/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)

    assert out.status_code == 303 and out.headers["location"] == "/review/login"
    assert client.get("/review", follow_redirects=False).status_code == 303


# --- the inbox and the draft ----------------------------------------------------------------------------


def test_the_inbox_lists_the_waiting_drafts_oldest_first_with_their_anomalies(api: Api) -> None:
    acme = api.waiting_run()
    beta = api.start("invoice Beta for March")
    api.wait(beta)
    client = signed_in(api, api.viewer)

    page = client.get("/review")

    assert page.status_code == 200
    assert re.findall(r'<tr id="run-([0-9a-f]+)">', page.text) == [acme, beta]
    acme_row = page.text.split(f'id="run-{acme}"')[1].split("</tr>")[0]
    assert f'href="/review/{acme}"' in acme_row and "Acme Industries Ltd" in acme_row
    assert "780.00 GBP" in acme_row and "4 held" in acme_row and "3 flagged" in acme_row


def test_the_inbox_says_when_nothing_waits(api: Api) -> None:
    assert "Nothing waits for a decision." in signed_in(api, api.viewer).get("/review").text


def test_the_draft_shows_lines_that_open_to_their_entries_with_held_and_flagged_ones_explained(api: Api) -> None:
    run_id = api.waiting_run()

    page = signed_in(api, api.viewer).get(f"/review/{run_id}")

    assert page.status_code == 200
    lines = re.findall(r'<details class="line( has-flags)?"( open)?>\s*<summary>\s*<span class="desc">([^<]+)',
                       page.text)
    assert [(html.unescape(d).strip(), bool(flags), bool(opened)) for flags, opened, d in lines] == [
        ("Discovery & workshops", False, False), ("Design", True, True), ("Development", True, True),
        ("Maintenance", False, False)]  # lines with flagged entries start open
    assert row(page.text, "e7").startswith("flagged|") and "no description" in row(page.text, "e7")
    assert row(page.text, "e8").startswith("flagged|") and "dated Saturday 2026-03-07" in row(page.text, "e8")
    assert row(page.text, "e1").startswith("|") and "homepage wireframes" in row(page.text, "e1")
    held = {entry: row(page.text, entry) for entry in ("e6", "e9", "e11", "e10")}
    assert all(r.startswith("held|") for r in held.values())
    assert "duplicate of entry e2" in held["e6"] and "belongs to client beta" in held["e9"]
    assert "0 hours" in held["e11"] and "after the as-of date" in held["e10"]
    assert "task ACM-1 (&#39;Homepage redesign sign-off&#39;) was completed" in page.text  # a flag on no line
    assert "excluded by client rule: category internal_meeting" in page.text
    assert '<tr class="grand"><th>Total</th><td>780.00 GBP</td></tr>' in page.text


def test_an_unknown_run_is_a_page_that_says_so(api: Api) -> None:
    page = signed_in(api, api.viewer).get("/review/nosuchrun")

    assert page.status_code == 404 and "no such run" in page.text and "text/html" in page.headers["content-type"]


# --- deciding -------------------------------------------------------------------------------------------


def test_a_decision_without_the_sessions_csrf_token_is_refused(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    other_session = csrf_of(signed_in(api, api.approver).get(f"/review/{run_id}").text)

    for form in ({}, {"csrf_token": "forged"}, {"csrf_token": other_session}):
        refused = client.post(f"/review/{run_id}/approve", data=form)
        assert refused.status_code == 403 and "nothing was done" in refused.text
    assert client.post(f"/review/{run_id}/reject", data={"reason": "x"}).status_code == 403
    assert client.post(f"/review/{run_id}/request-changes", data={"drop": "e7"}).status_code == 403
    assert api.run(run_id)["approval"]["status"] == "pending" and outbox(settings) == []


def test_approving_in_the_page_sends_the_invoice_under_the_tokens_label(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    page = client.get(f"/review/{run_id}")

    approved = client.post(f"/review/{run_id}/approve", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    shown = client.get(approved.headers["location"])

    assert approved.status_code == 303 and approved.headers["location"] == f"/review/{run_id}?done=approved"
    assert "Approved: the invoice was numbered, pushed to the ledger and sent." in shown.text
    assert re.search(r'Invoice <strong class="number">TS-2026-0001</strong>\s*<span class="badge status-sent">sent',
                     shown.text)
    assert "approved</span> by ann@firm" in shown.text and 'action="/review/' + run_id + '/approve"' not in shown.text
    run = api.run(run_id)
    assert run["status"] == "sent" and ("approved", "ann@firm") in [(d["action"], d["actor"]) for d in run["decisions"]]
    assert len(outbox(settings)) == 1
    pdf = client.get(f"/review/{run_id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_deciding_an_already_decided_draft_says_so_and_sends_nothing_twice(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    csrf = csrf_of(client.get(f"/review/{run_id}").text)
    assert client.post(f"/review/{run_id}/approve", data={"csrf_token": csrf}).status_code == 200

    again = client.post(f"/review/{run_id}/approve", data={"csrf_token": csrf})
    reject = client.post(f"/review/{run_id}/reject", data={"csrf_token": csrf, "reason": "late"})

    assert again.status_code == 409 and reject.status_code == 409
    assert "Nothing was done: this draft is not waiting for a decision (already decided?)" in again.text
    assert "TS-2026-0001" in again.text
    assert len(outbox(settings)) == 1 and [d["action"] for d in api.run(run_id)["decisions"]].count("approved") == 1


def test_a_viewer_sees_the_draft_but_its_decision_is_refused(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.viewer)
    page = client.get(f"/review/{run_id}")

    refused = client.post(f"/review/{run_id}/approve", data={"csrf_token": csrf_of(page.text)})

    assert page.status_code == 200 and "signed in as a viewer" in page.text and "/approve" not in page.text
    assert refused.status_code == 403 and "needs an approver token" in refused.text
    assert api.run(run_id)["approval"]["status"] == "pending" and outbox(settings) == []


def test_requesting_changes_in_the_page_recomputes_the_draft_which_waits_again(api: Api) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    csrf = csrf_of(client.get(f"/review/{run_id}").text)

    changed = client.post(f"/review/{run_id}/request-changes", data={
        "csrf_token": csrf, "drop": ["e7", "e6"], "category:e3": "", "category:e8": "development",
        "rename:Design": "Design work", "rename:Development": "", "reason": "no notes on e7"})

    assert changed.status_code == 200 and "Changes requested" in changed.text and "draft v2" in changed.text
    assert '<span class="desc">Design work' in changed.text and 'id="entry-e7"' not in changed.text
    [change] = [d for d in api.run(run_id)["decisions"] if d["action"] == "changes_requested"]
    assert change["actor"] == "ann@firm" and change["detail"]["reason"] == "no notes on e7"
    assert change["detail"]["changes"]["drop"] == {"e7": "no notes on e7", "e6": "no notes on e7"}
    assert change["detail"]["changes"]["descriptions"] == {"Design": "Design work"}
    assert api.run(run_id)["approval"]["status"] == "pending"


def test_changes_that_name_nothing_in_the_draft_are_explained_and_the_draft_still_waits(api: Api) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    csrf = csrf_of(client.get(f"/review/{run_id}").text)

    nothing = client.post(f"/review/{run_id}/request-changes", data={"csrf_token": csrf})
    unknown = client.post(f"/review/{run_id}/request-changes", data={"csrf_token": csrf, "category:e1": "astrology"})

    assert nothing.status_code == 422 and "no changes" in nothing.text
    assert unknown.status_code == 422 and "unknown category &#39;astrology&#39;" in unknown.text
    assert api.run(run_id)["approval"]["status"] == "pending" and api.run(run_id)["draft_version"] == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_in_the_page_needs_a_reason(api: Api, reason: str) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    csrf = csrf_of(client.get(f"/review/{run_id}").text)

    blank = client.post(f"/review/{run_id}/reject", data={"csrf_token": csrf, "reason": reason})
    rejected = client.post(f"/review/{run_id}/reject", data={"csrf_token": csrf, "reason": "client paused it"})

    assert blank.status_code == 422 and "A rejection needs a reason" in blank.text
    assert rejected.status_code == 200 and "rejected</span> by ann@firm" in rejected.text
    assert "client paused it" in rejected.text and api.run(run_id)["status"] == "rejected"


def test_the_page_shows_the_models_review_as_suggestions_and_a_ticked_one_is_accepted(
    make_api: Callable[..., Api],
) -> None:
    review = {"suggestions": [{"entry_id": "e8", "category": "discovery", "reason": "scoping the API with the client"}],
              "anomalies": [{"kind": "duplicate", "explanation": "e6 repeats e2.", "action": "drop"}],
              "changes": "First invoice of Acme: 780.00 GBP. It doubled to 1,560.00 since February.",
              "cover_email": "Dear Acme, our invoice for March: 780.00 GBP."}
    api = make_api(model=ScriptedModel([turn(call("submit_review", **review)), turn(call("submit_review"))],
                                       name="claude-test"))
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    page = html.unescape(client.get(f"/review/{run_id}").text)

    assert "Review by claude-test: suggestions only, nothing changes until you accept" in page
    assert "What changed:</strong> First invoice of Acme: 780.00 GBP.</p>" in page  # the made-up figure is gone
    assert "1,560.00" in page and "which the draft does not have" in page  # ...and the note says so
    assert "Recommended: drop." in page and "scoping the API with the client" in page
    assert 'name="category:e8" value="discovery"' in page
    assert row(page, "e8").startswith("flagged|")  # the suggestion changed nothing: still billed as it was

    accepted = client.post(f"/review/{run_id}/request-changes",
                           data={"csrf_token": csrf_of(page), "category:e8": "discovery",
                                 "reason": "accepted suggestions of the review (claude-test)"})
    assert accepted.status_code == 200 and "draft v2" in accepted.text
    [change] = [d for d in api.run(run_id)["decisions"] if d["action"] == "changes_requested"]
    assert change["detail"]["changes"]["categories"] == {"e8": "discovery"}
