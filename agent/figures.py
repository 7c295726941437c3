"""Checking the figures a model writes: every number in its text must be one the code computed.

A model may explain, never compute. `unchecked_figures` finds the numbers in a text that are not in the
allowed set (amounts, hours, rates, counts, percentages the code produced); `keep_checked` removes each
sentence that quotes one and says what it removed, so a wrong figure never reaches a person as fact.
Identifiers and ISO dates (`e-0012`, `INV-2026-0008`, `2026-03-15`) are not figures and are not checked.
A percentage is checked against the percentages the code wrote ("30 %" is not vouched for by "30 hours").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

__all__ = ["Figures", "allowed_figures", "keep_checked", "unchecked_figures"]

_IDENTIFIER = re.compile(r"\w+(?:[-/]\w+)+")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")
_PERCENT = re.compile(r"\s?(%|per ?cent\b)")
_SENTENCE = re.compile(r"((?<=[.!?])[ \t]+|\n+)")


def _value(whole: str, fraction: str | None) -> Decimal | None:
    try:
        return Decimal(whole.replace(",", "") + (fraction or ""))
    except InvalidOperation:
        return None


class Figures(set[Decimal]):
    """Allowed figures, with the subset of them the code wrote as percentages."""

    def __init__(self, values: Iterable[Decimal] = (), percents: Iterable[Decimal] = ()) -> None:
        super().__init__(values)
        self.percents = set(percents)


def _figures_in(text: str) -> list[tuple[str, Decimal, bool]]:
    """(as written, value, written as a percentage) for each number in `text`; ids and dates skipped."""
    plain = _IDENTIFIER.sub(lambda m: " " * len(m[0]) if re.search(r"\d", m[0]) else m[0], text)
    found = []
    for m in _NUMBER.finditer(plain):
        value = _value(m[1], m[2])
        if value is not None:
            found.append((m[0], value, bool(_PERCENT.match(plain, m.end()))))
    return found


def numbers_in(text: str) -> list[tuple[str, Decimal]]:
    """Each number written in `text` (thousands separators allowed) with its value; ids and dates skipped."""
    return [(raw, value) for raw, value, _ in _figures_in(text)]


def allowed_figures(*texts: str, values: Iterable[Decimal | int] = ()) -> Figures:
    """The figures a model may quote: every number in code-written `texts`, and `values`; as percentages,
    the numbers those texts write as percentages."""
    found = [f for text in texts for f in _figures_in(text)]
    allowed = {Decimal(v) for v in values} | {value for _, value, _ in found}
    percents = {value for _, value, percent in found if percent}
    return Figures(allowed | {abs(v) for v in allowed}, percents | {abs(v) for v in percents})


def unchecked_figures(text: str, allowed: set[Decimal]) -> list[str]:
    """The numbers in `text` that are not in `allowed` (a percentage: not among `allowed.percents`), as
    written."""
    percents = allowed.percents if isinstance(allowed, Figures) else allowed
    return [raw + ("%" if percent else "") for raw, value, percent in _figures_in(text)
            if value not in (percents if percent else allowed)]


def keep_checked(text: str, allowed: set[Decimal], where: str) -> tuple[str, list[str]]:
    """`text` without the sentences that quote a figure not in `allowed`, and a note for each removal."""
    parts = _SENTENCE.split(text)
    kept, notes = [], []
    for sentence, gap in zip(parts[::2], [*parts[1::2], ""], strict=True):
        bad = unchecked_figures(sentence, allowed)
        if bad:
            notes.append(f"removed from the model's {where}: {sentence.strip()!r} (it quotes {', '.join(bad)}, "
                         "which the draft does not have)")
        else:
            kept.append(sentence + gap)
    return "".join(kept).strip(), notes
