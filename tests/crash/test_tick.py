"""The collections tick killed (SIGKILL) mid-send, on SQLite and PostgreSQL, then ticked again.

Acme TS-2026-0001 (due 2026-05-01) and Beta TS-2026-0002 (due 2026-04-15), both sent on 2026-04-01. The
first tick, on 2026-04-28, has two reminders to send, in this order: Beta's after-7 (fell due 04-22; its
earlier stages are skipped, after downtime only the stage now due goes out) and Acme's before-3. It dies
on the second, with Beta's recorded sent and Acme's claimed (`sending`):

    before:deliver@2   Acme's email not written yet
    after:deliver@2    Acme's email written to outbox/reminders, not yet recorded as sent

The documented recovery is to tick again ("a repeated or crashed tick sends nothing twice"): a tick straight
away sends nothing twice and leaves the dead worker's claim alone while its lease (10 minutes) lasts; the
first tick after the lease ran out (the claim is backdated by 11 minutes, as the clock would) settles it:
delivered after all (the file is there) or sent now. Ticks on 2026-05-01 send Acme's `due` stage, once.
One email per invoice and stage, each written once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.crash.conftest import BACKENDS, World

Worlds = Callable[[str, str], World]

LEASE_RUN_OUT = timedelta(minutes=11)


def tick(world: World, day: str) -> str:
    done = world.ok("tick", "--date", day)
    return done.stdout


def reminders(world: World) -> dict[tuple[str, str], str]:
    return {(number, stage): status for number, stage, status
            in world.rows("SELECT invoice_number, stage, status FROM reminders")}


@pytest.mark.parametrize("point", ["before:deliver@2", "after:deliver@2"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tick_killed_mid_send_sends_each_reminder_once(worlds: Worlds, backend: str, point: str) -> None:
    world = worlds(backend, "both_sent")
    outbox = world.data / "outbox" / "reminders"
    world.killed("tick", "--date", "2026-04-28", at=point)
    written = point.startswith("after")
    assert reminders(world) == {
        ("TS-2026-0002", "before-3"): "skipped", ("TS-2026-0002", "due"): "skipped",
        ("TS-2026-0002", "after-7"): "sent", ("TS-2026-0001", "before-3"): "sending",
    }
    assert (outbox / "TS-2026-0001.before-3.eml").exists() is written
    first = {p.name: p.stat().st_mtime_ns for p in outbox.glob("*.eml")}

    # Ticked again at once: Beta's reminder is not sent again, and Acme's is left to its dead worker's claim
    # until the lease (10 minutes) runs out; the next tick after that settles it.
    straight = tick(world, "2026-04-28")
    assert "TS-2026-0002 after-7" not in straight
    if reminders(world)[("TS-2026-0001", "before-3")] == "sending":
        assert "0 reminder(s) and 0 escalation(s) sent" in straight
        assert world.backdate_claims(LEASE_RUN_OUT) == 1
        settled = tick(world, "2026-04-28")
    else:  # the product learnt to see at once that the worker is gone: as good
        settled = straight
    if written:
        assert "0 reminder(s)" in settled and "TS-2026-0001.before-3 was left sending: delivered before" in settled
    else:
        assert "1 reminder(s)" in settled and "TS-2026-0001 before-3: sent to ap@acme.example" in settled
        assert "TS-2026-0001.before-3 was left sending: not delivered" in settled
    assert "0 reminder(s) and 0 escalation(s) sent" in tick(world, "2026-04-28")

    later = tick(world, "2026-05-01")
    assert "1 reminder(s) and 0 escalation(s) sent" in later and "TS-2026-0001 due: sent to ap@acme.example" in later
    assert "0 reminder(s) and 0 escalation(s) sent" in tick(world, "2026-05-01")  # a repeated tick: nothing

    assert reminders(world) == {
        ("TS-2026-0002", "before-3"): "skipped", ("TS-2026-0002", "due"): "skipped",
        ("TS-2026-0002", "after-7"): "sent", ("TS-2026-0001", "before-3"): "sent", ("TS-2026-0001", "due"): "sent",
    }
    sent = sorted(p.name for p in outbox.glob("*.eml"))
    assert sent == ["TS-2026-0001.before-3.eml", "TS-2026-0001.due.eml", "TS-2026-0002.after-7.eml"]
    for name, mtime in first.items():  # written once: what the killed tick wrote was never rewritten
        assert (outbox / name).stat().st_mtime_ns == mtime, name
    for name in sent:
        number = name.split(".", 1)[0]
        email = (outbox / name).read_text()
        assert number in email and ("ap@acme.example" if number.endswith("0001") else "rechnung@beta.example") in email
    assert [p.name for p in world.data.rglob(".*.tmp")] == []
    assert sorted(p.name for p in (world.data / "outbox").glob("*.eml")) == ["TS-2026-0001.eml", "TS-2026-0002.eml"]
