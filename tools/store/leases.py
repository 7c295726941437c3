"""Leases: who holds a claim in the store, and when a claim is stale and may be taken over.

Two claims name their holder: an approval being acted on (`approvals.claimed_by`) and a client and
period being drafted (`active_runs.holder`). A holder is "host:pid". A claim is stale when it is older
than the lease, or when its holder ran on this host and that process is gone (killed, crashed): the
work it started is then finished (or restarted) by whoever asks next, instead of waiting forever.

The lease is `INVOICE_AGENT_CLAIM_LEASE_SECONDS` (default 300); `Store(lease=...)` overrides it.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tools.store.errors import StoreError

__all__ = ["DEFAULT_LEASE", "LEASE_ENV", "holder_gone", "is_abandoned", "is_stale", "lease_from_env", "me"]

LEASE_ENV = "INVOICE_AGENT_CLAIM_LEASE_SECONDS"
DEFAULT_LEASE = timedelta(minutes=5)


def me() -> str:
    """This process as a claim's holder: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_from_env() -> timedelta:
    """The lease `INVOICE_AGENT_CLAIM_LEASE_SECONDS` sets, else five minutes.

    Raises:
        StoreError: the setting is not a positive number of seconds (the message says what to set).
    """
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise StoreError(f"{LEASE_ENV}={raw!r} is not a positive number of seconds; set it to e.g. 300, or unset it")
    return timedelta(seconds=seconds)


def holder_gone(holder: str | None) -> bool:
    """True when `holder` ran on this host and its process no longer runs (or is a zombie).

    A holder on another host, or one that cannot be checked, is never "gone": only the lease ends it.
    """
    host, _, pid_text = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or sys.platform == "win32":
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    try:  # killed but not yet reaped by its parent: the state after the command name is "Z"
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def is_stale(holder: str | None, since: datetime | None, now: datetime, lease: timedelta) -> bool:
    """A claim taken by `holder` at `since` is stale at `now`: older than `lease`, or its process is gone."""
    return since is None or now - since >= lease or holder_gone(holder)


def is_abandoned(holder: str | None, since: datetime | None, now: datetime, lease: timedelta) -> bool:
    """Work started by `holder` (a run drafting, which may rightly take long) is abandoned: its process on
    this host is gone, or it ran on another host and has said nothing for `lease`. A live process of this
    host keeps its work however long it takes."""
    if holder_gone(holder):
        return True
    on_this_host = (holder or "").rpartition(":")[0] == socket.gethostname()
    return not on_this_host and (since is None or now - since >= lease)
