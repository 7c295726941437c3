"""Workers ticking at the same moment on one PostgreSQL database never send the same reminder twice.

Each worker has its own Store (its own engine and connections, as a separate process would) and ticks the
same day at the same instant (a barrier). Every delivery is counted per key before the outbox's own
existence check, so a second send would show. And the race is shown to have happened: a worker's first
delivery of the day is held open until another worker is delivering too (or every other worker's tick is
over), and the most deliveries in progress at one moment are recorded per day. Two at once can only be two
workers, each holding a reminder it claimed while the other held its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from api.settings import DEMO_WORKSPACE, Settings
from graph.collections import TickReport, open_collections, tick
from tests.collections.test_tick import SCHEDULE
from tools.reminders import OutboxMailer
from tools.store import Store

WORKERS = 3


class SlowCounting:
    name = "outbox"
    idempotent = True

    def __init__(self, folder: Path) -> None:
        self.outbox = OutboxMailer(folder)
        self.calls: Counter[str] = Counter()
        self.changed = threading.Condition()
        self.ticking = 0  # workers whose tick of `self.day` has not returned yet
        self.day: date | None = None
        self.delivering = 0
        self.sent: Counter[date | None] = Counter()
        self.most_at_once: Counter[date | None] = Counter()  # the most deliveries in progress at one moment

    def start_day(self, day: date, workers: int) -> None:
        with self.changed:
            self.day, self.ticking = day, workers

    def tick_returned(self) -> None:
        with self.changed:
            self.ticking -= 1
            self.changed.notify_all()

    def deliver(self, key: str, message: EmailMessage) -> str:
        with self.changed:
            self.calls[key] += 1
            self.sent[self.day] += 1
            self.delivering += 1
            self.most_at_once[self.day] = max(self.most_at_once[self.day], self.delivering)
            self.changed.notify_all()
            # Hold this delivery open until another worker is delivering too, or until no other worker is left
            # ticking (then none could). Workers taking turns would wait out the timeout and show no overlap.
            self.changed.wait_for(lambda: self.most_at_once[self.day] > 1 or self.ticking <= 1, timeout=10)
        try:
            time.sleep(0.005)
            return self.outbox.deliver(key, message)
        finally:
            with self.changed:
                self.delivering -= 1

    def delivered(self, key: str) -> bool | None:
        return self.outbox.delivered(key)


def _race(url: str, folder: Path, days: list[date]) -> tuple[SlowCounting, list[TickReport]]:
    settings = Settings(workspace=DEMO_WORKSPACE, data_dir=folder, database_url=url, smtp_host=None,
                        smtp_to=["ann@parallax.example"])
    Store(url).migrate()
    mailer = SlowCounting(folder / "outbox")
    stores = [Store(url) for _ in range(WORKERS)]
    runtimes = [open_collections(settings, s, client_mailer=mailer, approver_mailer=mailer) for s in stores]
    reports: list[TickReport] = []
    errors: list[BaseException] = []
    for day in days:
        barrier = threading.Barrier(WORKERS)
        mailer.start_day(day, WORKERS)

        def work(index: int, day: date = day, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                reports.append(tick(runtimes[index], day))
            except BaseException as exc:  # reported below: a thread's exception is otherwise lost
                errors.append(exc)
            finally:
                mailer.tick_returned()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for store in stores:
        store.close()
    assert errors == []
    return mailer, reports


def test_workers_ticking_at_once_send_each_reminder_once(pg_url: str, tmp_path: Path) -> None:
    mailer, reports = _race(pg_url, tmp_path, [date(2026, 10, 31)])

    assert mailer.most_at_once[date(2026, 10, 31)] >= 2  # two workers were delivering at the same moment
    assert set(mailer.calls.values()) == {1}
    assert len(mailer.calls) == 6  # five reminders and one escalation, shared among the workers
    assert sum(len(r.sent) for r in reports) == 6
    assert len([r for r in reports if r.sent]) >= 2
    assert sum(r.payments_imported for r in reports) == 18  # each payment recorded by one worker only


def test_a_month_of_racing_ticks_sends_what_one_worker_alone_sends(pg_url: str, tmp_path: Path) -> None:
    days = [date(2026, 9, 1) + timedelta(days=n) for n in range(30)]
    alone = SlowCounting(tmp_path / "alone")
    settings = Settings(workspace=DEMO_WORKSPACE, data_dir=tmp_path / "alone", smtp_host=None, smtp_to=[])
    with Store(f"sqlite:///{tmp_path / 'alone.db'}") as store:
        store.migrate()
        runtime = open_collections(settings, store, client_mailer=alone, approver_mailer=alone)
        for day in days:
            tick(runtime, day)

    racing, _ = _race(pg_url, tmp_path / "racing", days)

    busy = [day for day in days if racing.sent[day] >= 2]
    assert len(busy) >= 3
    assert [day for day in busy if racing.most_at_once[day] < 2] == []  # each day with 2+ sends, 2 sent at once
    assert set(racing.calls.values()) == {1}
    assert racing.calls == alone.calls
    after_first_day = Counter(f"{n}.{s}" for day in days[1:] for n, s in SCHEDULE.get(day, []))
    assert after_first_day <= racing.calls  # 09-01 is the first tick: it also catches up on August
