"""Understanding requests offline: names as people type them, periods as people say them."""

from __future__ import annotations

from datetime import date

import pytest

from agent.requests import resolve_request
from tests.builders import client, workspace

RETAINER = {"model": "retainer", "retainer": {"amount": "1000.00", "included_hours": "5", "overage_rate": "90.00"}}
WS = workspace(clients=[
    client(id="pcreative", name="Parallax Creative"),
    client(id="parallel", name="Parallel Labs"),
    client(id="acme", name="Acme Industries Ltd", aliases=["ACME Inc"]),
    client(id="beta", name="Beta GmbH", billing=RETAINER),
])
TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(("text", "clients", "period"), [
    ("invoice Parallax Creative for March", ["pcreative"], "2026-03"),
    ("draft Acme's retainer for 2026-03", ["acme"], "2026-03"),
    ("invoice ACME Inc for sept", ["acme"], "2026-09"),
    ("invoice acmee for last month", ["acme"], "2026-10"),
    ("bill Beta for Marhc 2025", ["beta"], "2025-03"),
    ("invoice all hourly clients for last month", ["pcreative", "parallel", "acme"], "2026-10"),
    ("invoice all retainer clients for October", ["beta"], "2026-10"),
    ("invoice acme and beta for 2026-02", ["acme", "beta"], "2026-02"),
    ("invoice paralel labs for December", ["parallel"], "2025-12"),
    ("invoice beta for 2026-03-01..2026-03-15", ["beta"], "2026-03-01..2026-03-15"),
])
def test_requests_resolve_to_clients_and_a_period(text: str, clients: list[str], period: str) -> None:
    resolution = resolve_request(text, WS, TODAY)
    assert resolution.question is None
    assert [t.client for t in resolution.targets] == clients
    assert {str(t.period) for t in resolution.targets} == {period}


def test_a_name_that_could_mean_two_clients_is_asked_back() -> None:
    resolution = resolve_request("invoice Parallax for March", WS, TODAY)
    assert resolution.targets == [] and resolution.question == "Parallax Creative or Parallel Labs?"


def test_an_unknown_name_is_asked_back_with_the_known_clients() -> None:
    resolution = resolve_request("invoice Globex for March", WS, TODAY)
    assert resolution.targets == []
    assert resolution.question is not None and "Acme Industries Ltd" in resolution.question


def test_a_month_without_a_year_is_the_latest_one_not_in_the_future_and_said_so() -> None:
    resolution = resolve_request("invoice acme for December", WS, TODAY)
    assert str(resolution.targets[0].period) == "2025-12"
    assert "took December to mean December 2025" in resolution.assumptions


def test_no_period_means_last_month_and_says_so() -> None:
    resolution = resolve_request("invoice acme", WS, TODAY)
    assert str(resolution.targets[0].period) == "2026-10"
    assert any("last month" in a for a in resolution.assumptions)
