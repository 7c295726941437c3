"""Invoice numbers: the firm's `invoice_number_format` with the issue year and one firm-wide sequence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date


def _pattern(fmt: str) -> re.Pattern[str]:
    parts = re.split(r"(\{year\}|\{seq(?::[^}]*)?\})", fmt)
    regex = ""
    for part in parts:
        if part == "{year}":
            regex += r"(?P<year>\d{4})"
        elif part.startswith("{seq"):
            regex += r"(?P<seq>\d+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def next_invoice_number(fmt: str, issued: Iterable[str], issue_date: date) -> str:
    """The number after the highest of `issued` in the firm-wide sequence (which does not reset yearly)."""
    pattern = _pattern(fmt)
    highest = 0
    for number in issued:
        match = pattern.fullmatch(number)
        if match:
            highest = max(highest, int(match["seq"]))
    return fmt.format(year=issue_date.year, seq=highest + 1)
