"""The serve-time ticker: ticks at once and then on its interval; a failing tick does not stop it."""

from __future__ import annotations

import threading

import pytest

from api.scheduler import Ticker


def test_ticks_at_once_then_on_its_interval_and_survives_a_failing_tick() -> None:
    calls: list[int] = []
    third = threading.Event()

    def tick() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the store was down")
        if len(calls) == 3:
            third.set()

    ticker = Ticker(tick, every=0.01)
    ticker.start()
    assert third.wait(5), "the ticker stopped after a failing tick"
    ticker.stop()
    count = len(calls)
    third.wait(0.05)
    assert len(calls) == count  # stopped means stopped


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        Ticker(lambda: None, every=0)
