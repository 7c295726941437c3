"""`invoice-agent serve`: the API in its own process over HTTP, with a token made by `invoice-agent token create`."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.cli import main
from tests.api.conftest import AS_OF, TINY
from tests.api.test_app_notify import free_port

ROOT = Path(__file__).parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
    data = str(tmp_path / "data")
    made = io.StringIO()
    with contextlib.redirect_stdout(made):
        assert main(["token", "create", "--role", "approver", "--label", "ann@firm", "--data", data]) == 0
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workspace",
                                str(TINY), "--data", data], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the server did not come up in 30 s"
            time.sleep(0.1)
        yield base, {"Authorization": f"Bearer {made.getvalue().strip()}"}
    finally:
        process.terminate()
        process.wait(30)


def test_the_served_api_drafts_in_the_background_and_links_to_the_review_page(
    server: tuple[str, dict[str, str]],
) -> None:
    base, headers = server
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        assert client.get("/health").json()["workspace"] == str(TINY.resolve())
        started = client.post("/runs", json={"text": "invoice Acme for March", "as_of": AS_OF})
        assert started.status_code == 202
        run_id = started.json()["data"][0]["run_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/runs/{run_id}").json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        [waiting] = client.get("/approvals").json()["data"]

    assert waiting["run_id"] == run_id and waiting["total"] == "780.00"
    assert waiting["review_url"] == f"{base}/review/{run_id}"
