"""The review page in a real browser: from the link a notice carries to an approved, sent invoice.

Headless Chromium (the system's: Debian's `chromium` package) driven by Playwright against `invoice-agent
serve` in its own process over HTTP. Playwright's own browser download (`playwright install`) is never used.
With INVOICE_AGENT_SCREENSHOTS=docs the screenshots of the inbox and of a draft are written to docs/ (the
ones the README shows); otherwise to the test's folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from api.cli import main
from tests.api.conftest import AS_OF, TINY
from tests.api.test_app_notify import free_port

ROOT = Path(__file__).parents[2]
CHROMIUM = Path(os.environ.get("INVOICE_AGENT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"no Chromium at {CHROMIUM}: install it with 'apt-get install -y chromium'")


@dataclass
class Served:
    base: str
    token: str
    api: httpx.Client

    def waiting_run(self, text: str) -> str:
        started = self.api.post("/runs", json={"text": text, "as_of": AS_OF})
        assert started.status_code == 202, started.text
        run_id: str = started.json()["data"][0]["run_id"]
        deadline = time.monotonic() + 30
        while (status := self.api.get(f"/runs/{run_id}").json()["status"]) == "running":
            assert time.monotonic() < deadline, f"run {run_id} still drafting"
            time.sleep(0.05)
        assert status == "awaiting_approval"
        return run_id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`invoice-agent serve` on the tiny workspace, and an approver token made with `invoice-agent token create`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
    data = str(tmp_path / "data")
    made = io.StringIO()
    with contextlib.redirect_stdout(made):
        assert main(["token", "create", "--role", "approver", "--label", "ann@firm", "--data", data]) == 0
    token = made.getvalue().strip()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workspace",
                                str(TINY), "--data", data], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if api.get("/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the server did not come up in 30 s"
                time.sleep(0.1)
            yield Served(base, token, api)
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1180, "height": 800})
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = os.environ.get("INVOICE_AGENT_SCREENSHOTS")
    path = (ROOT / folder) if folder else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_person_goes_from_the_link_to_an_approved_sent_invoice(
    served: Served, browser: BrowserContext, screenshots: Path
) -> None:
    acme = served.waiting_run("invoice Acme for March")
    beta = served.waiting_run("invoice Beta for March")
    [link] = [a["review_url"] for a in served.api.get("/approvals").json()["data"] if a["run_id"] == acme]
    page: Page = browser.new_page()

    page.goto(link)  # as from the Slack message or the email: not signed in yet
    expect(page).to_have_url(re.compile(r"/review/login\?next=/review/"))
    page.get_by_label("Your API token").fill(served.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{served.base}/review/{acme}")

    page.get_by_role("link", name="Inbox").click()
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Acme Industries Ltd")
    expect(rows.nth(0)).to_contain_text("4 held")
    expect(rows.nth(1)).to_have_attribute("id", f"run-{beta}")
    page.screenshot(path=screenshots / "review-inbox.png", full_page=True)

    rows.nth(0).get_by_role("link", name="Acme Industries Ltd").click()
    expect(page.locator("h1")).to_have_text("Acme Industries Ltd")
    discovery = page.locator("details.line", has_text="Discovery & workshops")
    expect(discovery.locator("#entry-e5")).to_be_hidden()
    discovery.locator("summary").click()  # a line opens to its entries
    expect(discovery.locator("#entry-e5")).to_be_visible()
    expect(page.locator("#entry-e7")).to_have_class("flagged")  # flagged lines start open
    expect(page.locator("#entry-e7 + tr.why")).to_contain_text("no description")
    expect(page.locator(".held-panel tr.held")).to_have_count(4)
    expect(page.locator("#entry-e6")).to_contain_text("duplicate of entry e2")
    page.screenshot(path=screenshots / "review-draft.png", full_page=True)

    page.get_by_role("button", name="Approve").click()

    expect(page.locator("p.notice.ok")).to_contain_text("Approved")
    expect(page.locator("p.invoice")).to_contain_text("Invoice TS-2026-0001")
    expect(page.locator("p.invoice .badge")).to_have_text("sent")
    run = served.api.get(f"/runs/{acme}").json()
    assert run["status"] == "sent" and run["approval"]["decided_by"] == "ann@firm"
    [session] = [c for c in browser.cookies() if c["name"] == "invoice_agent_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax" and served.token not in str(browser.cookies())
