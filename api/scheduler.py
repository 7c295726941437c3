"""Ticks on a schedule inside `invoice-agent serve`: reminders, escalations and payment matching.

A plain daemon thread is enough: each tick is idempotent and takes its own locks in the store (two
servers ticking at once send nothing twice), so a missed or repeated tick does no harm. Cron can run
`invoice-agent tick` instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    """Call `tick()` now and then every `every` seconds until stopped; a failing tick is logged, not fatal."""

    def __init__(self, tick: Callable[[], object], every: float) -> None:
        if every <= 0:
            raise ValueError("a ticker needs a positive interval")
        self._tick, self._every = tick, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="invoice-agent-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # a tick must never take the server down; the next one retries
                log.exception("collections tick failed; retrying in %s s", self._every)
            self._stop.wait(self._every)
