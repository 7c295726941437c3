"""The plugin in tests/conftest.py: under CI a skipped test fails and names the missing service; elsewhere it skips.

The first tests run small made-up suites through the plugin (pytester). The last runs real tests of this
suite in a child pytest with PostgreSQL pointed at a closed port and Chromium at a path that is not there:
the very tests that skip on a developer's machine fail under CI, one for one, and none skips.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import tests.conftest as ci_skips

ROOT = Path(__file__).parents[1]

NEEDS_POSTGRES = """
    import pytest

    @pytest.fixture(scope="session")
    def postgres_url():
        pytest.skip("PostgreSQL unreachable at postgresql+psycopg://postgres@127.0.0.1:1/test: connection refused")

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_stored(postgres_url, n):
        pass

    def test_without_a_database():
        pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args, plugins=[ci_skips])


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.fixture
def developer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.usefixtures("ci")
def test_under_ci_each_test_skipped_for_want_of_postgresql_fails_and_names_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NEEDS_POSTGRES)

    result = run(pytester)

    result.assert_outcomes(passed=1, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*PostgreSQL missing: 3 test(s) failed: CI runs every test*",
                                 "ERROR *test_stored?1? - PostgreSQL missing under CI: PostgreSQL unreachable at *"])


@pytest.mark.usefixtures("developer")
def test_on_a_developers_machine_they_skip_and_the_run_counts_them_per_service(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NEEDS_POSTGRES)

    result = run(pytester, "-rs")

    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["PostgreSQL missing: 3 test(s) skipped (under CI these fail)",
                                 "SKIPPED ?3? *PostgreSQL unreachable*"])


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_ci_is_on_for_the_values_ci_providers_and_make_test_set(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert ci_skips.in_ci()


@pytest.mark.parametrize("value", ["", "false", "0", "no"])
def test_ci_is_off_otherwise(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not ci_skips.in_ci()


@pytest.mark.usefixtures("ci")
def test_under_ci_the_browser_test_without_chromium_fails_naming_chromium(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.skipif(True, reason="no Chromium at /usr/bin/chromium: apt-get install -y chromium")

        def test_in_the_browser():
            pass
    """)

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["Chromium missing: 1 test(s) failed: CI runs every test",
                                 "ERROR *test_in_the_browser - Chromium missing under CI: no Chromium at /usr/bin/*"])


@pytest.mark.usefixtures("ci")
def test_under_ci_any_other_skip_fails_too_saying_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        def test_mail_server():
            pytest.importorskip("a_dev_dependency_nobody_installed")
    """)

    result = run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skipped under CI, where every test must run: *a_dev_dependency_nobody_installed*"])
    result.stdout.no_fnmatch_line("*services missing*")


@pytest.mark.usefixtures("ci")
def test_under_ci_a_module_skipped_whole_fails_its_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        pytest.skip("PostgreSQL unreachable: the whole module needs it", allow_module_level=True)

        def test_stored():
            pass
    """)

    result = run(pytester)

    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*PostgreSQL missing under CI: PostgreSQL unreachable: the whole module needs it*"])


@pytest.mark.usefixtures("ci")
def test_under_ci_an_expected_failure_is_not_a_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.xfail(reason="rounding bug #12", strict=True)
        def test_known_bug():
            assert 0.1 + 0.2 == 0.3
    """)

    result = run(pytester)

    result.assert_outcomes(xfailed=1)
    assert result.ret == pytest.ExitCode.OK


# --- the real suite, its services gone -------------------------------------------------------------

# Each way a test reaches PostgreSQL (the `database_url` and `pg_url` fixtures, `fresh_database`) and the
# browser test; their SQLite halves are left out (-k), as they run the same with or without the services.
REAL = ["tests/store/test_approvals.py", "tests/collections/test_race_postgres.py", "tests/api/test_app_labels.py",
        "tests/api/test_review_browser.py", "-k", "not sqlite"]


def closed_port() -> int:
    with socket.socket() as sock:  # a port the OS just handed out and nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def without_services(tmp_path: Path, ci: str) -> subprocess.Popen[str]:
    """REAL in a child pytest, PostgreSQL at a closed port and Chromium at a path that is not there."""
    env = os.environ | {"CI": ci, "INVOICE_AGENT_CHROMIUM": str(tmp_path / "no-chromium"),
                        "INVOICE_AGENT_TEST_POSTGRES": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"}
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                             "--basetemp", str(tmp_path / ci), *REAL], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def outcomes(child: subprocess.Popen[str]) -> tuple[dict[str, int], str]:
    """The child's outcomes by kind ("passed", "skipped", "error", ...) from its last line, and its output."""
    output, _ = child.communicate(timeout=600)
    [last] = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", line)][-1:]
    return {kind.rstrip("s"): int(n) for n, kind in re.findall(r"(\d+) (\w+)", last)}, output


def test_without_their_services_the_tests_that_skip_on_a_laptop_fail_under_ci_one_for_one(tmp_path: Path) -> None:
    laptop_run, ci_run = without_services(tmp_path, ci="false"), without_services(tmp_path, ci="true")
    laptop, _ = outcomes(laptop_run)
    ci, output = outcomes(ci_run)

    assert laptop["skipped"] > 10 and "error" not in laptop, laptop  # the PostgreSQL halves, the browser test
    assert "skipped" not in ci, output
    assert ci["error"] == laptop["skipped"]
    assert ci.get("passed") == laptop.get("passed")  # what needs neither service runs either way
    assert f"PostgreSQL missing: {laptop['skipped'] - 1} test(s) failed: CI runs every test" in output
    assert "Chromium missing: 1 test(s) failed: CI runs every test" in output
