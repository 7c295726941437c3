"""The worker command of `invoice-agent`: draft the runs queued over HTTP, beside (or instead of) the
servers' own workers.

    invoice-agent worker [--once] [--concurrency N]

Servers (`invoice-agent serve`) and workers on one database share one queue (`tools.store.jobs`): a
worker claims a queued run with a lease, drafts it exactly as the server would (the same workspace,
model, ledger and notices: set the same INVOICE_AGENT_* settings, INVOICE_AGENT_PUBLIC_URL included, so
notices link to the review page), and renews the lease while it drafts. A worker that is killed loses its
runs to another worker or server once their leases run out (INVOICE_AGENT_JOB_LEASE_SECONDS, default 60);
a run half drafted is finished where it stopped. SIGTERM or Ctrl-C: nothing more is claimed, the runs
drafting now finish, then the worker exits. `--once` drafts what is queued and exits when nothing is left.
`api.cli` adds the parser with `add_parsers` and dispatches to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from api.cli_args import Command, settings_of

__all__ = ["COMMANDS", "add_parsers"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs, 1 or more; got {text!r}")
    return value


def add_parsers(commands: Any, command: Command) -> None:
    """Add `worker` to the `invoice-agent` subcommands (`command` is api.cli's helper)."""
    worker = command("worker", "draft the runs queued over HTTP (several workers and servers can share one database)")
    worker.add_argument("--once", action="store_true",
                        help="draft what is queued now, then exit (default: keep waiting for runs)")
    worker.add_argument("--concurrency", type=_positive, default=None, metavar="N",
                        help="runs drafting at once (default: INVOICE_AGENT_RUN_WORKERS, 4)")


def _worker(args: argparse.Namespace) -> int:
    from api.background import RunService

    settings = settings_of(args)
    concurrency = args.concurrency or max(1, settings.run_workers)
    service = RunService(settings.model_copy(update={"run_workers": concurrency}))
    workers = service.workers
    try:
        if args.once:
            drafted = workers.drain()
            print(f"invoice-agent worker: {drafted} queued run(s) done; nothing left to claim", file=sys.stderr)
            return 0
        stopping = threading.Event()

        def stop(signum: int, _frame: object) -> None:
            print(f"invoice-agent worker: {signal.Signals(signum).name}: finishing the runs drafting now",
                  file=sys.stderr)
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        workers.start()
        print(f"invoice-agent worker {workers.name}: drafting the queued runs of {settings.workspace}, "
              f"{concurrency} at once (data: {settings.database_url or settings.data_dir})", file=sys.stderr,
              flush=True)
        while not stopping.wait(1.0):
            pass
        return 0
    finally:
        service.close()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"worker": _worker}
