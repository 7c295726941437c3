"""Run one `invoice-agent` command and SIGKILL it at a chosen point: the crash-injection launcher.

    python tests/crash/kill_at.py POINT -- <invoice-agent args>
    python tests/crash/kill_at.py --serve

POINT says where the process dies (it patches the product in this process only, then calls
`api.cli.main(args)`):

    none                  nowhere: the command runs as `invoice-agent` would (recoveries use this)
    before:NODE           just before `graph.nodes.InvoiceRunNodes.NODE` runs (draft, review, approval, decide,
                          revise, reject, create_invoice, push, send, schedule_reminders)
    after:NODE            just after it returned: its own writes (store, files) are done, the graph has not
                          checkpointed them
    claim                 just after `Store.claim` won a run's approval: claimed, no decision recorded yet
    before:deliver        collections: a reminder claimed (sending), its email not yet written to the outbox
    after:deliver         collections: the email written, the reminder not yet recorded as sent
    POINT@N               the N-th time the point is reached in the process (default: the first)

The kill is `os.kill(os.getpid(), SIGKILL)`: no `finally`, no atexit, no flush, no rollback, as when the
machine loses the process. Just before it the launcher writes `kill_at: SIGKILL at POINT` to stderr. When
the command ends without reaching its point, the launcher says so and exits with status 97.

`--serve` is a fork server for the test suite: it imports the product once, then reads one JSON request per
line on stdin ({"point", "args", "env", "cwd", "stdout", "stderr", "timeout"}), forks a child per request
that sets exactly that environment and folder, sends its output to the two files and runs the command as
above, and answers {"returncode"} (minus the signal number when a signal ended it, as `subprocess` does)
on stdout. Each command is still a process of its own, with its own connections, killed for real; only
the ~2 s of imports are paid once. `tests/crash/conftest.py` uses fresh interpreters instead when
CRASH_SUITE_FRESH_PROCESSES=1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NODES = ("draft", "review", "approval", "decide", "revise", "reject", "create_invoice", "push", "send",
         "schedule_reminders")
NOT_REACHED = 97


class Point:
    """Where to die, and how many times the point has been reached so far."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        where, _, nth = spec.partition("@")
        self.where = where
        self.nth = int(nth) if nth else 1
        self.reached = 0
        when, _, what = where.partition(":")
        if where not in ("none", "claim") and not (
            when in ("before", "after") and (what in NODES or what == "deliver")
        ):
            raise SystemExit(f"kill_at: unknown point {spec!r} (see tests/crash/kill_at.py)")

    def hit(self) -> None:
        self.reached += 1
        if self.reached == self.nth:
            sys.stdout.flush()
            sys.stderr.write(f"kill_at: SIGKILL at {self.spec}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def _around(owner: type, name: str, point: Point, when: str, *, only_if: Callable[[Any], bool] | None = None) -> None:
    """Replace `owner.name` by a method that hits `point` before or after the real one."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            point.hit()
        result = original(*args, **kwargs)
        if when == "after" and (only_if is None or only_if(result)):
            point.hit()
        return result

    setattr(owner, name, wrapped)


def install(point: Point) -> None:
    """Patch the product so that this process dies at `point` (nothing is patched for `none`)."""
    if point.where == "none":
        return
    if point.where == "claim":
        from tools.store.store import Store

        _around(Store, "claim", point, "after", only_if=bool)  # only a claim that won
        return
    when, _, what = point.where.partition(":")
    if what == "deliver":
        from tools.reminders import OutboxMailer

        _around(OutboxMailer, "deliver", point, when)
        return
    from graph.nodes import InvoiceRunNodes

    _around(InvoiceRunNodes, what, point, when)


def run(spec: str, args: Sequence[str]) -> int:
    """Run `invoice-agent args` in this process, dying at `spec`; the command's exit status otherwise."""
    point = Point(spec)
    install(point)
    from api.cli import main

    try:
        status = main(list(args))
    except SystemExit as exc:  # argparse
        status = exc.code if isinstance(exc.code, int) else 2
    sys.stdout.flush()
    if point.where != "none" and point.reached < point.nth:
        sys.stderr.write(f"kill_at: {spec} was never reached (the command ended with status {status})\n")
        sys.stderr.flush()
        return NOT_REACHED
    return status


# --- the fork server --------------------------------------------------------------------------------------

PREWARM = (
    "api.cli", "api.wiring", "graph.builder", "graph.collections", "graph.checkpoints", "tools.store.store",
    "tools.store.collections", "tools.invoice_pdf", "tools.connectors.local_ledger", "alembic.command",
    "alembic.config", "langgraph.checkpoint.sqlite", "langgraph.checkpoint.postgres", "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg", "sqlalchemy.dialects.sqlite.pysqlite",
)


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the requested command, then leave without returning to the server."""
    status = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(handle, fd)
            os.close(handle)
        sys.argv = ["invoice-agent", *request["args"]]
        status = run(request["point"], request["args"])
    except BaseException:  # whatever happens, the child must not return into the server's loop
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -999  # timed out
        time.sleep(0.005)


def serve() -> int:
    import importlib

    answer = os.fdopen(os.dup(1), "w", buffering=1)  # the answers' channel; anything printed goes to stderr
    os.dup2(2, 1)
    for module in PREWARM:  # only to save each child the time; whatever fails to import is imported there
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    answer.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        answer.write(json.dumps({"returncode": _wait(pid, float(request.get("timeout", 120)))}) + "\n")
    return 0


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--serve"]:
        return serve()
    if len(argv) < 2 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[0], argv[2:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
