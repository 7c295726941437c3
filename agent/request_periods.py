"""Periods as people say them: "second half of August", "1-15 August", "the week of 2026-03-09", "Q3".

Each `Rule` is a regular expression over a request's normalized tokens (see `agent.request_words`: lower
case, "15th" as "15", "Aug" as "august", one space between tokens) and the function that turns a match
into a `Period` and the assumptions it took ("took August to mean August 2026": a month named without a
year is the latest one not in the future). `PERIOD_RULES` is tried in order, so ranges come before the
single days they contain and sub-periods before the month they name. A day that does not exist ("31
June") raises `Unclear`, whose message is the question to ask back.

Covered: a month ("March", "March 2025", "2026-03", "last month", "March last year"); halves ("second
half of August", "H1 2026", "first half of 2026"); the first or last days or weeks of a month ("first two
weeks of May", "the last week of September", "the 3rd week of October", "the 2nd fortnight of
October"); day ranges ("1-15 August", "Aug
1 to Aug 15", "15th to 31st of July", "between 3 and 17 March", "15 July to 14 August", "2026-03-01..
2026-03-15"); month ranges ("March to May"); weeks ("the week of 2026-03-09", "w/c 9 March", "last week");
quarters ("Q3", "third quarter of 2025", "last quarter"); "the last 3 months"; "year to date"; one day
("2026-03-09", "March 9th"); a whole year ("2025", "last year").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from agent.request_words import MONTHS
from tools.periods import Period


class Unclear(Exception):
    """A period the request names but that is no date ("31 June"); the message is the question to ask."""


_MON = "(?:" + "|".join(calendar.month_name[i].lower() for i in range(1, 13)) + ")"
_YEAR = r"(?:19|20)\d\d"
_DAY = r"(?:[1-9]|[12]\d|3[01])"
_ISO_DAY = r"\d{4}-\d{1,2}-\d{1,2}"
_TO = r"(?:-|to|through|thru|until|till|\.\.)"
_SIDE = rf"(?:the )?(?:{_DAY} (?:of )?{_MON}|{_MON} (?:the )?{_DAY})(?:(?: ,)? {_YEAR})?"
_MONTH_REF = (rf"(?:{_MON}(?:(?: ,)? (?:of )?(?:{_YEAR}|last year|this year))?|\d{{4}}-\d{{1,2}}"
              r"|(?:last|previous|past|this|current) month)")
_ORDINALS = {"first": 1, "1": 1, "front": 1, "second": 2, "2": 2, "back": 2, "latter": 2, "third": 3, "3": 3,
             "fourth": 4, "4": 4, "last": 4, "final": 4}

PeriodReading = tuple[Period, list[str]]
"""A period and what it took to read it ("took August to mean August 2026")."""


def _year_for(month: int, today: date) -> int:
    """A month named without a year is the latest one not in the future."""
    return today.year if month <= today.month else today.year - 1


def _took(month: int, year: int) -> str:
    name = calendar.month_name[month]
    return f"took {name} to mean {name} {year}"


def _month_ref(text: str, today: date) -> tuple[int, int, list[str]]:
    """(year, month, assumptions) of "August", "August 2025", "2025-08", "last month", "March last year"."""
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        return int(m[1]), int(m[2]), []
    if m := re.fullmatch(r"(?:last|previous|past) month", text):
        last = last_month(today)
        return last.start.year, last.start.month, []
    if re.fullmatch(r"(?:this|current) month", text):
        return today.year, today.month, []
    month = MONTHS[text.split()[0]]
    if m := re.search(_YEAR, text):
        return int(m[0]), month, []
    if text.endswith("last year"):
        return today.year - 1, month, []
    if text.endswith("this year"):
        return today.year, month, []
    year = _year_for(month, today)
    return year, month, [_took(month, year)]


def _day(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Unclear(f"{calendar.month_name[month]} {year} has no day {day}: which dates do you mean?") from None


def _side(text: str) -> tuple[int, int, int | None]:
    """(month, day, year or None) of "1 August", "the 15th of July", "Aug 1, 2026"."""
    words = [w for w in text.split() if w not in {"the", "of", ","}]
    month = next(MONTHS[w] for w in words if w in MONTHS)
    numbers = [int(w) for w in words if w.isdigit()]
    year = next((n for n in numbers if n >= 1900), None)
    day = next(n for n in numbers if n < 1900)
    return month, day, year


def _range(a: tuple[int, int, int | None], b: tuple[int, int, int | None], today: date) -> PeriodReading:
    """A range of two days ("1 Aug to 15 Aug"): a missing year is the end's, the latest not in the future."""
    (ma, da, ya), (mb, db, yb) = a, b
    notes: list[str] = []
    if yb is None and ya is not None:
        yb = ya if ma <= mb else ya + 1
    if yb is None:
        yb = _year_for(mb, today)
        notes.append(_took(mb, yb))
    if ya is None:
        ya = yb if ma <= mb else yb - 1
        if ma != mb:
            notes.insert(0, _took(ma, ya))
    return _period(_day(ya, ma, da), _day(yb, mb, db)), notes


def _period(start: date, end: date) -> Period:
    if end < start:
        raise Unclear(f"{end} comes before {start}: which dates do you mean?")
    return Period(start=start, end=end)


def _month_part(ref: str, today: date, first: int, last: int | None) -> PeriodReading:
    """Days `first`..`last` of a month (None: to its end; negative: counted from its end)."""
    year, month, notes = _month_ref(ref, today)
    whole = Period.month(year, month)
    end_day = whole.end.day
    if first < 0:
        first = end_day + first + 1
    return _period(_day(year, month, max(first, 1)), _day(year, month, end_day if last is None else last)), notes


def _half(m: re.Match[str], today: date) -> PeriodReading:
    second = _ORDINALS[m["which"]] != 1
    ref = m["ref"]
    if re.fullmatch(_YEAR + "|last year|this year", ref):
        year = int(ref) if ref[0].isdigit() else today.year - (ref == "last year")
        return (Period.parse(f"{year}-07-01..{year}-12-31") if second
                else Period.parse(f"{year}-01-01..{year}-06-30")), []
    return _month_part(ref, today, 16, None) if second else _month_part(ref, today, 1, 15)


def _h_half(m: re.Match[str], today: date) -> PeriodReading:
    year = int(m["y"]) if m["y"] else today.year
    notes = [] if m["y"] else [f"took H{m['h']} to mean H{m['h']} {year}"]
    start, end = ("01-01", "06-30") if m["h"] == "1" else ("07-01", "12-31")
    return Period.parse(f"{year}-{start}..{year}-{end}"), notes


def _edge_days(m: re.Match[str], today: date) -> PeriodReading:
    unit = m["unit"]
    days = 14 if unit == "fortnight" else int(m["n"] or 1) * (7 if unit.startswith("week") else 1)
    if m["edge"] in {"first", "opening"}:
        return _month_part(m["ref"], today, 1, days)
    return _month_part(m["ref"], today, -days, None)


def _nth_week(m: re.Match[str], today: date) -> PeriodReading:
    """"the 3rd week of October" is its days 15-21, the 5th week its 29th to its end; "the second
    fortnight" runs from the 15th to the month's end."""
    n = {"fifth": 5, "5": 5}.get(m["nth"]) or _ORDINALS[m["nth"]]
    year, month, notes = _month_ref(m["ref"], today)
    end = Period.month(year, month).end.day
    days = 14 if m["unit"] == "fortnight" else 7
    first = (n - 1) * days + 1
    if first > end or (m["unit"] == "fortnight" and n > 2):
        raise Unclear(f"{calendar.month_name[month]} {year} has no {m['unit']} {n}: which dates do you mean?")
    last = end if m["unit"] == "fortnight" and n == 2 else min(n * days, end)
    return _period(_day(year, month, first), _day(year, month, last)), notes


def _quarter(m: re.Match[str], today: date) -> PeriodReading:
    if m["q"] is None and m["qw"] in {"last", "final"} and m["y"] is None:
        return _relative_quarter("last", today), []
    q = int(m["q"]) if m["q"] else _ORDINALS[m["qw"]]
    notes: list[str] = []
    if m["y"] in (None, "last year", "this year"):
        year = {"last year": today.year - 1, "this year": today.year}.get(m["y"] or "", 0)
        if not year:
            year = today.year if 3 * q - 2 <= today.month else today.year - 1
            notes.append(f"took Q{q} to mean Q{q} {year}")
    else:
        year = int(m["y"])
    return _quarter_period(year, q), notes


def _quarter_period(year: int, q: int) -> Period:
    return _period(Period.month(year, 3 * q - 2).start, Period.month(year, 3 * q).end)


def _relative_quarter(which: str, today: date) -> Period:
    q = (today.month - 1) // 3 + 1
    if which in {"last", "previous", "past"}:
        return _quarter_period(today.year - 1, 4) if q == 1 else _quarter_period(today.year, q - 1)
    return _quarter_period(today.year, q)


def _week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(start=monday, end=monday + timedelta(days=6))


def _week_of_date(m: re.Match[str], today: date) -> PeriodReading:
    text = m["d"]
    if re.fullmatch(_ISO_DAY, text):
        return _week_of(_iso(text)), []
    month, day, year = _side(text)
    notes = [] if year else [_took(month, _year_for(month, today))]
    return _week_of(_day(year or _year_for(month, today), month, day)), notes


def _iso(text: str) -> date:
    try:
        return date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError:
        raise Unclear(f"{text} is not a date: which dates do you mean?") from None


def _one_day(m: re.Match[str], today: date) -> PeriodReading:
    text = m["d"]
    if re.fullmatch(_ISO_DAY, text):
        day = _iso(text)
        return Period(start=day, end=day), []
    month, d, year = _side(text)
    notes = [] if year else [_took(month, _year_for(month, today))]
    day = _day(year or _year_for(month, today), month, d)
    return Period(start=day, end=day), notes


def _last_n_months(m: re.Match[str], today: date) -> PeriodReading:
    n = int(m["n"])
    end = last_month(today)
    first = date(today.year, today.month, 1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return _period(first, end.end), []


def _to_date(m: re.Match[str], today: date) -> PeriodReading:
    unit = m["u"] or m["u2"] or {"ytd": "year", "mtd": "month"}[m["abbr"]]
    start = date(today.year, 1, 1) if unit == "year" else date(today.year, today.month, 1)
    return _period(start, today), []


def _iso_range(m: re.Match[str], today: date) -> PeriodReading:
    return _period(_iso(m["a"]), _iso(m["b"])), []


def _month_days(m: re.Match[str], today: date) -> PeriodReading:
    ref = f"{m['m']} {m['y']}" if m["y"] else m["m"]
    return _month_part(ref, today, int(m["d1"]), int(m["d2"]))


def _month(m: re.Match[str], today: date) -> PeriodReading:
    year, month, notes = _month_ref(m["ref"], today)
    return Period.month(year, month), notes


def _year(m: re.Match[str], today: date) -> PeriodReading:
    year = int(m["y"]) if m["y"] else today.year - (m["rel"] == "last")
    return Period.parse(f"{year}-01-01..{year}-12-31"), []


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    read: Callable[[re.Match[str], date], PeriodReading]
    explain: bool = True
    """Say how the words were read ("read 'second half of August' as 2026-08-16..2026-08-31")."""


def _rule(pattern: str, read: Callable[[re.Match[str], date], PeriodReading], explain: bool = True) -> Rule:
    return Rule(re.compile(rf"(?<![^ ])(?:{pattern})(?![^ ])"), read, explain)


def _between(a: str, b: str, read: Callable[[re.Match[str], date], PeriodReading], explain: bool = True) -> list[Rule]:
    """A range said "A to B", "from A to B" or "between A and B"."""
    return [_rule(rf"between {a} and {b}", read, explain), _rule(rf"(?:from )?{a} {_TO} {b}", read, explain)]


PERIOD_RULES: list[Rule] = [
    # "2026-03-01..2026-03-15", "from 2026-09-15 to 2026-10-14", "between 2026-03-01 and 2026-03-15"
    *_between(rf"(?P<a>{_ISO_DAY})", rf"(?P<b>{_ISO_DAY})", _iso_range, explain=False),
    # "the week of 2026-03-09", "the week commencing 12 October", "w/c 9 March": Monday to Sunday
    _rule(rf"(?:(?:the )?(?:week|wk) (?:of|starting|beginning|commencing) (?:on )?|w / c )"
          rf"(?P<d>{_ISO_DAY}|{_SIDE})", _week_of_date),
    # "the second half of August", "1st half of last month", "the first half of 2026"
    _rule(rf"(?:the )?(?P<which>first|1|second|2|last|latter|back|front) half (?:of )?(?:the )?"
          rf"(?P<ref>{_MONTH_REF}|{_YEAR}|last year|this year)", _half),
    # "H1 2026", "H2"
    _rule(rf"h(?P<h>[12])(?: (?P<y>{_YEAR}))?", _h_half),
    # "the first two weeks of May", "the last week of September", "the first 10 days of June"
    _rule(r"(?:the )?(?P<edge>first|last|final|opening|closing) (?:(?P<n>\d+) )?(?P<unit>weeks?|days?|fortnight)"
          rf" (?:of|in) (?:the )?(?P<ref>{_MONTH_REF})", _edge_days),
    # "the 3rd week of October", "the second fortnight of October"
    _rule(r"(?:the )?(?P<nth>first|second|third|fourth|fifth|1|2|3|4|5) (?P<unit>week|fortnight) (?:of|in) "
          rf"(?:the )?(?P<ref>{_MONTH_REF})", _nth_week),
    # "Aug 1 to Aug 15", "15 July to 14 August", "1 Sep to 30 Sep 2025"
    *_between(rf"(?P<a>{_SIDE})", rf"(?P<b>{_SIDE})", lambda m, t: _range(_side(m["a"]), _side(m["b"]), t)),
    # "1-15 August", "15th to 31st of July", "between 3 and 17 March", "1-15 of last month"
    *_between(rf"(?:the )?(?P<d1>{_DAY})", rf"(?:the )?(?P<d2>{_DAY}) (?:of )?(?P<ref>{_MONTH_REF})",
              lambda m, t: _month_part(m["ref"], t, int(m["d1"]), int(m["d2"]))),
    # "August 1-15", "aug 1 to 15, 2025"
    *_between(rf"(?P<m>{_MON}) (?:the )?(?P<d1>{_DAY})", rf"(?:the )?(?P<d2>{_DAY})(?:(?: ,)? (?P<y>{_YEAR}))?",
              _month_days),
    # "March to May", "from November 2025 to January 2026"
    *_between(rf"(?P<a>{_MON}(?: {_YEAR})?)", rf"(?P<b>{_MON}(?: {_YEAR})?)",
              lambda m, t: _month_span(m["a"], m["b"], t)),
    # "Q3", "Q3 2025", "the third quarter of last year", "last quarter"
    _rule(rf"(?:the )?(?:q(?P<q>[1-4])|(?P<qw>first|second|third|fourth|1|2|3|4|last|final) quarter)"
          rf"(?: (?:of )?(?P<y>{_YEAR}|last year|this year))?", _quarter),
    # "this quarter", "the previous quarter"
    _rule(r"(?:the )?(?P<rel>previous|past|this|current) quarter",
          lambda m, t: (_relative_quarter(m["rel"], t), [])),
    # "last week", "this week": Monday to Sunday
    _rule(r"(?:the )?(?P<rel>last|previous|past|this|current) week",
          lambda m, t: (_week_of(t - timedelta(days=7 if m["rel"] in {"last", "previous", "past"} else 0)), [])),
    # "the last 3 months": the three whole months before this one
    _rule(r"(?:the )?(?:last|past|previous) (?P<n>\d+) months", _last_n_months),
    # "year to date", "YTD", "so far this month"
    _rule(r"(?:the )?(?P<u>year|month) to date|(?P<abbr>ytd|mtd)|so far this (?P<u2>year|month)", _to_date),
    # one day: "2026-03-09", "March 9th", "9 March 2026"
    _rule(rf"(?P<d>{_ISO_DAY}|{_SIDE})", _one_day),
    # a month: "March", "the month of February", "2026-03", "last month", "March last year"
    _rule(rf"(?:the )?(?:month of )?(?P<ref>{_MONTH_REF})", _month, explain=False),
    # a year: "2025", "the whole of 2025", "last year"
    _rule(rf"(?:the )?(?:(?:whole|full|entire|calendar) )?(?:year )?(?:of )?(?P<y>{_YEAR})|(?P<rel>last|this) year",
          _year),
]


def _month_span(a: str, b: str, today: date) -> PeriodReading:
    """"March to May": from the first day of one month to the last day of the other."""
    ya, ma, _ = _month_ref(a, today) if re.search(_YEAR, a) else (None, MONTHS[a], [])
    yb, mb, notes = _month_ref(b, today)
    if ya is None:
        ya = yb if ma <= mb else yb - 1
    return _period(date(ya, ma, 1), Period.month(yb, mb).end), notes


def last_month(today: date) -> Period:
    return Period.month(today.year, today.month - 1) if today.month > 1 else Period.month(today.year - 1, 12)
