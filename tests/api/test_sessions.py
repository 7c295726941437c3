"""Review-page sessions: signed, expiring, bound to their CSRF token, under a key kept in the data folder."""

from __future__ import annotations

import stat
from pathlib import Path

from api.sessions import KEY_FILE, SESSION_MAX_AGE, Sessions

NOW = 1_790_000_000.0


def test_a_session_opens_until_it_expires_and_names_only_the_token_id(tmp_path: Path) -> None:
    sessions = Sessions.in_folder(tmp_path)

    value = sessions.issue("tok1", now=NOW)

    assert value.startswith("tok1.") and sessions.open(value, now=NOW + 60) is not None
    assert sessions.open(value, now=NOW + SESSION_MAX_AGE) is None
    assert sessions.open(value, now=NOW - 60) is None  # issued in the future: not ours to trust


def test_a_session_altered_or_signed_with_another_key_does_not_open(tmp_path: Path) -> None:
    sessions = Sessions.in_folder(tmp_path / "a")
    token_id, issued, nonce, mac = sessions.issue("tok1", now=NOW).split(".")

    altered = [f"tok2.{issued}.{nonce}.{mac}", f"{token_id}.{issued}.{nonce}x.{mac}", f"{token_id}.{issued}.{nonce}",
               "", "a.b.c.d.e"]
    other_key = Sessions.in_folder(tmp_path / "b").issue("tok1", now=NOW)

    assert [sessions.open(v, now=NOW) for v in [*altered, other_key]] == [None] * (len(altered) + 1)


def test_each_session_has_its_own_csrf_token(tmp_path: Path) -> None:
    sessions = Sessions.in_folder(tmp_path)
    first = sessions.open(sessions.issue("tok1", now=NOW), now=NOW)
    second = sessions.open(sessions.issue("tok1", now=NOW), now=NOW)
    assert first is not None and second is not None

    assert sessions.csrf_ok(first, sessions.csrf(first))
    assert not sessions.csrf_ok(first, sessions.csrf(second))
    assert not sessions.csrf_ok(first, None) and not sessions.csrf_ok(first, "")


def test_the_key_is_made_once_readable_by_its_owner_only_and_kept(tmp_path: Path) -> None:
    first = Sessions.in_folder(tmp_path / "data")
    value = first.issue("tok1", now=NOW)

    again = Sessions.in_folder(tmp_path / "data")  # a restart: sessions survive it

    assert stat.S_IMODE((tmp_path / "data" / KEY_FILE).stat().st_mode) == 0o600
    assert again.key == first.key and again.open(value, now=NOW) is not None
    assert [p.name for p in (tmp_path / "data").iterdir()] == [KEY_FILE]
