"""Invoice numbers: the firm's `invoice_number_format` with the issue year and one firm-wide sequence.

A format holds exactly one `{seq}` (optionally zero-padded, `{seq:04d}`), at most one `{year}`, and any
literal text: `check_number_format` refuses anything else, so that every number it makes can be read back
(`sequence_of`) and the next one always differs from the last.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import date

FIELDS = ("year", "seq")
_SPEC = re.compile(r"0?\d{0,2}d?")  # a width (at most 99), optionally zero-padded, as an integer
_PROBES = (1, 9, 10, 123, 12345)


def check_number_format(fmt: str) -> str:
    """Return `fmt` if it makes numbers that can be told apart and read back; else raise `ValueError`.

    The message says what is wrong and how a good format looks (e.g. "INV-{year}-{seq:04d}").
    """
    example = 'write it like "INV-{year}-{seq:04d}"'
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ValueError(f"is not a valid format ({exc}); {example}") from None
    fields = [(name, spec, conversion) for _, name, spec, conversion in parsed if name is not None]
    for name, spec, conversion in fields:
        if name not in FIELDS:
            shown = "{" + name + "}" if name else "{}"
            raise ValueError(f"has the placeholder {shown}; only {{year}} and {{seq}} exist; {example}")
        if conversion or not _SPEC.fullmatch(spec or ""):
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"has {shown}; use {{{name}}} or a zero-padded width such as {{seq:04d}}; {example}")
    seqs = sum(1 for name, _, _ in fields if name == "seq")
    if seqs != 1:
        which = "no {seq} placeholder, so every invoice would get the same number" if seqs == 0 else \
            f"{seqs} {{seq}} placeholders; it needs exactly one"
        raise ValueError(f"has {which}; {example}")
    if sum(1 for name, _, _ in fields if name == "year") > 1:
        raise ValueError(f"has more than one {{year}} placeholder; {example}")
    for seq in _PROBES:
        number = fmt.format(year=2026, seq=seq)
        if sequence_of(fmt, number) != seq:
            raise ValueError(f"makes numbers that cannot be read back (seq {seq} gives {number!r}); {example}")
    return fmt


def sequence_of(fmt: str, number: str) -> int | None:
    """The sequence number inside `number` if it follows `fmt`, else None."""
    match = _pattern(fmt).fullmatch(number)
    return int(match["seq"]) if match else None


def _pattern(fmt: str) -> re.Pattern[str]:
    regex = ""
    for literal, name, _, _ in string.Formatter().parse(fmt):
        regex += re.escape(literal)
        if name == "year":
            regex += r"(?P<year>\d{4})" if "(?P<year>" not in regex else r"\d{4}"
        elif name == "seq":
            regex += r"(?P<seq>\d+)" if "(?P<seq>" not in regex else r"\d+"
    return re.compile(regex)


def next_invoice_number(fmt: str, issued: Iterable[str], issue_date: date) -> str:
    """The number after the highest of `issued` in the firm-wide sequence (which does not reset yearly)."""
    highest = max((sequence_of(fmt, number) or 0 for number in issued), default=0)
    return fmt.format(year=issue_date.year, seq=highest + 1)
