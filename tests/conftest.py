"""Under CI a test may not skip: each skip fails the run, and a missing service is named.

On a developer's machine a test whose service is absent (the machine's PostgreSQL, Debian's Chromium) skips
and says why, and the end of the run counts those skips per service. Under CI (`CI` set to true, 1 or yes:
CI providers set it, and `make test` does) a skip would let the run go green with the PostgreSQL half of the
suite and the browser test never run, so every skip is reported as a failure instead: "PostgreSQL missing
under CI: ..." when the reason names a service, "skipped under CI: ..." otherwise (a missing dev
dependency, say). An expected failure (xfail) is not a skip and stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

pytest_plugins = ["pytester"]  # tests/test_ci_skips.py runs small suites through this plugin

SERVICES = ("PostgreSQL", "Chromium")
"""Services some tests need, as their skip reasons name them."""

_missing = pytest.StashKey[dict[str, list[str]]]()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_named(reason: str) -> str | None:
    """The service a skip's reason says is missing, if any."""
    return next((name for name in SERVICES if name.lower() in reason.lower()), None)


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_a_skip(config: pytest.Config, report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    service = service_named(reason)
    config.stash[_missing].setdefault(service or "", []).append(report.nodeid)
    if not in_ci():
        return
    report.outcome = "failed"
    report.longrepr = (f"{service} missing under CI: {reason}" if service else
                       f"skipped under CI, where every test must run: {reason}")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_missing] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_a_skip(item.config, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport,
                                                                              pytest.CollectReport]:
    report = yield
    _fail_a_skip(collector.config, report)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    missing = {service: tests for service, tests in config.stash[_missing].items() if service}
    if not missing:
        return
    verdict = "failed: CI runs every test" if in_ci() else "skipped (under CI these fail)"
    terminalreporter.section("services missing", sep="-", yellow=not in_ci(), red=in_ci())
    for service, tests in sorted(missing.items()):
        terminalreporter.line(f"{service} missing: {len(tests)} test(s) {verdict}")
