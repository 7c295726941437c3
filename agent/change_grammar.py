"""The offline grammar of `agent.change_words`: a reviewer's common phrasings read into `Revisions`.

`split_parts` cuts the words into parts (commas, semicolons, sentences, "then", and "and" before a new verb
or "the"; quoted text is kept whole); `Grammar.read` reads each part as one of:

- dropping: "drop the offsite", "remove the duplicate on the 12th", "take off Sam's Friday entries",
  "don't bill e-0042", "drop the travel line";
- re-categorizing: "Sam's calls on the 3rd are client calls", "make e-0012 design",
  "move the workshop entries to discovery";
- renaming a line: "call the development line 'Build work'", "rename 'Design' to 'UX'";
- rates and hours ("bill Sam's travel at half rate", "at 100/h", "only 2 hours"), which revisions cannot
  change: answered with `CANNOT_RATES` / `CANNOT_HOURS`.

A part with no verb borrows the previous part's ("drop the offsite, the duplicate on the 12th"). Entries
are picked by id, person (full, first or last name), date ("the 12th", "13 March", ISO) or weekday, hours,
quoted text, and the words of their notes, task and flags, or, when those match nothing, their category
and line. What a part cannot name (an unknown id, a person with no entries here, a date outside the
period, an ambiguous category or line) is answered with why, never guessed.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tools.domain import Workspace
from tools.drafts import Draft, EntryDecision
from tools.money import format_quantity
from tools.revisions import Revisions

__all__ = ["CANNOT_HOURS", "CANNOT_RATES", "DraftBook", "Grammar", "Part", "Reading", "split_parts"]

CANNOT_RATES = ("I can't do that yet: rates are set by the client's rules "
                "(try `invoice-agent rules suggest`)")
CANNOT_HOURS = ("I can't do that: an entry is billed for the hours it records "
                "(correct the time entry where it was logged, or drop it)")


# ----------------------------------------------------------------------------------------------------
# Words


_STOP = frozenset("""
    a all also an and any anything are as at be bill billed booked both by charged day days draft each entries
    entry every everything for from her his hour hours in invoice is it item items its just logged log logs my
    of on one ones only or our please row rows s stuff that the their them these thing things this those time
    times to too was were with work""".split())
_SYNONYMS = {"dupe": "duplicate", "dup": "duplicate", "duplicated": "duplicate", "doubled": "duplicate",
             "double": "duplicate"}
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|(?<!\w)'([^']+)'(?!\w)")
_SLOT = re.compile(r"\x00(\d+)\x00")
_ID_LIKE = re.compile(r"^[a-z]+-?\d+[a-z0-9-]*$")


def _stem(word: str) -> str:
    """A crude English stem, the same on both sides of a comparison: calls, calling -> call."""
    word = _SYNONYMS.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    """Lower-case words, hyphens inside words joined ("off-site" -> "offsite"), possessives dropped."""
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", "", text.lower())
    return [re.sub(r"['’]s?$", "", w) for w in re.findall(r"[a-z0-9]+(?:['’][a-z]+)?", text)]


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _words(text)}


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 2


def _covers(stems: set[str], wanted: Iterable[str]) -> bool:
    return all(any(_same(w, s) for s in stems) for w in wanted)


# ----------------------------------------------------------------------------------------------------
# The draft as the grammar sees it


@dataclass
class DraftBook:
    draft: Draft
    workspace: Workspace
    by_id: dict[str, EntryDecision] = field(init=False)
    """lower-case entry id -> the entry."""
    raw: dict[str, str] = field(init=False)
    """entry id -> its notes and task, lower-case (for quoted phrases)."""
    text: dict[str, set[str]] = field(init=False)
    """entry id -> stems of its notes, task and flags (the words people use for an entry)."""
    filed: dict[str, set[str]] = field(init=False)
    """entry id -> stems of its category and line (where the engine put it)."""
    kinds: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        d, ws = self.draft, self.workspace
        self.by_id = {e.entry_id.lower(): e for e in d.entries}
        source = {t.id: t for t in ws.entries}
        self.kinds = {}
        for a in d.anomalies:
            self.kinds.setdefault(a.entry_id, []).append(a.kind)
        line_of = {i: ln.description for ln in d.lines for i in ln.entry_ids}
        self.text, self.filed, self.raw = {}, {}, {}
        for e in d.entries:
            row = source.get(e.entry_id)
            self.raw[e.entry_id] = f"{e.notes} {row.task if row else ''}".lower()
            words = " ".join([e.notes, row.task if row else "", *self.kinds.get(e.entry_id, [])]).replace("_", " ")
            self.text[e.entry_id] = _stems(words)
            category = d.categories.get(e.entry_id) or e.category or ""
            label = ws.category_label(category) if category in self.catalogue else ""
            self.filed[e.entry_id] = _stems(f"{category.replace('_', ' ')} {label} {line_of.get(e.entry_id, '')}")

    @property
    def catalogue(self) -> list[str]:
        return [c.id for c in self.workspace.settings.categories]

    def show(self, e: EntryDecision) -> str:
        notes = e.notes if len(e.notes) <= 48 else e.notes[:47] + "…"
        return f"{e.entry_id} ({e.date:%a %Y-%m-%d}, {e.person}, {format_quantity(e.hours)} h, \"{notes}\")"

    def show_many(self, entries: Sequence[EntryDecision], shown: int = 8) -> str:
        """Entries as a person checks them: the first `shown` in full, the rest by id."""
        listed = ", ".join(self.show(e) for e in entries[:shown])
        rest = [e.entry_id for e in entries[shown:]]
        return listed + (f" and {len(rest)} more ({', '.join(rest)})" if rest else "")

    def days(self, day: int, month: int | None = None) -> set[date]:
        start, end = self.draft.period_start, self.draft.period_end
        found, cursor = set(), date(start.year, start.month, 1)
        while cursor <= end:
            if (month is None or cursor.month == month) and 1 <= day <= calendar.monthrange(*cursor.timetuple()[:2])[1]:
                found.add(date(cursor.year, cursor.month, day))
            cursor = (cursor + timedelta(days=32)).replace(day=1)
        return {d for d in found if start <= d <= end}


def _category(phrase: str, book: DraftBook) -> tuple[str | None, str]:
    """The catalogue's category a phrase names ("client calls", "design", "Discovery & workshops"), or why not."""
    cats = book.workspace.settings.categories
    text = re.sub(r"^(?:(?:a|an|the|really|actually|billed as|counted as)\s+)+", "", phrase.strip(" .!'\"").lower())
    text = re.sub(r"\s+(?:category|entries|entry|work|time)$", "", text)
    for c in cats:
        if text in (c.id, c.id.replace("_", " "), c.label.lower()):
            return c.id, ""
    wanted = [_stem(w) for w in _words(text) if w not in _STOP]
    if wanted:
        for tier in ("name", "examples"):
            hits = [c.id for c in cats if _covers(
                _stems(f"{c.id.replace('_', ' ')} {c.label}" + (" " + " ".join(c.examples) if tier == "examples"
                                                                else "")), wanted)]
            if len(hits) == 1:
                return hits[0], ""
            if hits:
                return None, f"{phrase!r} could be {' or '.join(hits)}: say which"
    close = difflib.get_close_matches(text, [c.id for c in cats] + [c.label.lower() for c in cats], n=1, cutoff=0.8)
    if close:
        return next(c.id for c in cats if close[0] in (c.id, c.label.lower())), ""
    return None, f"no category is called {phrase.strip()!r} (known: {', '.join(book.catalogue)})"


# ----------------------------------------------------------------------------------------------------
# Picking entries and lines


@dataclass
class _Pick:
    entries: list[EntryDecision] = field(default_factory=list)
    problem: str = ""


def _take(pattern: str, text: str) -> tuple[list[re.Match[str]], str]:
    found = list(re.finditer(pattern, text, re.I))
    return found, re.sub(pattern, " ", text, flags=re.I)


def _when(text: str, book: DraftBook) -> tuple[set[date] | None, str, str]:
    """The dates a phrase names ("on the 12th", "13 March", "March 3rd", "2026-03-12"; None when it names
    none), the phrase without them, and what is wrong with them (a date outside the draft's period)."""
    months = {name[:3].lower(): i for i, name in enumerate(calendar.month_name) if name}
    named, dates = False, set[date]()
    found, text = _take(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    for m in found:
        try:
            dates.add(date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            return None, text, f"{m[0]} is not a date"
    named |= bool(found)
    found, text = _take(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b", text)
    dates |= {d for m in found for d in book.days(int(m[1]), months[m[2][:3].lower()])}
    named |= bool(found)
    found, text = _take(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", text)
    dates |= {d for m in found for d in book.days(int(m[2]), months[m[1][:3].lower()])}
    named |= bool(found)
    found, text = _take(r"\b(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b|\bon\s+(?:the\s+)?(\d{1,2})\b", text)
    dates |= {d for m in found for d in book.days(int(m[1] or m[2]))}
    named |= bool(found)
    if not named:
        return None, text, ""
    start, end = book.draft.period_start, book.draft.period_end
    if not dates or any(not start <= d <= end for d in dates):
        return None, text, f"that date is not in this draft's period ({start}..{end})"
    return dates, text, ""


def _select(target: str, quotes: Sequence[str], book: DraftBook) -> _Pick:
    """The draft's entries a phrase names: ids, people, dates, weekdays, hours, quoted text, words."""
    entries = list(book.draft.entries)
    text, said = f" {target} ", target.strip()
    for slot in _SLOT.findall(text):
        phrase = quotes[int(slot)].lower()
        entries = [e for e in entries if phrase in book.raw[e.entry_id]]
    text = _SLOT.sub(" ", text)
    features = bool(_SLOT.search(target))

    ids = [w for w in re.findall(r"[\w-]+", text.lower()) if w in book.by_id]
    unknown = [w for w in re.findall(r"[\w-]+", text.lower())
               if _ID_LIKE.match(w) and w not in book.by_id and not w.isalpha()]
    if unknown:
        return _Pick(problem=f"{', '.join(unknown)}: not an entry of this draft")
    if ids:
        entries = [e for e in entries if e.entry_id.lower() in ids]
        text = re.sub("|".join(rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in ids), " ", text, flags=re.I)
        features = True

    found, text = _take(r"\b(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b", text)
    if found:
        wanted_hours = {Decimal(m[1]) for m in found}
        entries, features = [e for e in entries if e.hours in wanted_hours], True

    dates, text, problem = _when(text, book)
    if problem:
        return _Pick(problem=f"{said!r}: {problem}")
    if dates is not None:
        entries, features = [e for e in entries if e.date in dates], True
    found, text = _take(rf"\b({'|'.join(_WEEKDAYS)})(?:s|['’]s)?\b", text)
    if found:
        days = {_WEEKDAYS.index(m[1].lower()) for m in found}
        entries, features = [e for e in entries if e.date.weekday() in days], True

    people = sorted({e.person for e in book.draft.entries} | {p.person for p in book.workspace.people},
                    key=len, reverse=True)
    chosen: set[str] = set()
    for name in people:
        pattern = rf"\b{re.escape(name)}(?:['’]s?)?(?!\w)"
        if re.search(pattern, text, re.I):
            chosen.add(name)
            text = re.sub(pattern, " ", text, flags=re.I)
    for part in sorted({p for name in people for p in name.split()}, key=len, reverse=True):
        pattern = rf"\b{re.escape(part)}(?:['’]s?)?(?!\w)"
        if len(part) < 2 or not re.search(pattern, text, re.I):
            continue
        owners = [name for name in people if part.lower() in name.lower().split()]
        on_draft = [name for name in owners if any(e.person == name for e in book.draft.entries)]
        if len(on_draft) > 1:
            return _Pick(problem=f"{part!r} could be {' or '.join(on_draft)}: say which")
        chosen.add((on_draft or owners)[0])
        text = re.sub(pattern, " ", text, flags=re.I)
    if chosen:
        missing = [p for p in chosen if not any(e.person == p for e in book.draft.entries)]
        if missing:
            return _Pick(problem=f"{', '.join(missing)} has no entries on this draft")
        entries, features = [e for e in entries if e.person in chosen], True

    wanted = [_stem(w) for w in _words(text) if w not in _STOP and not w.isdigit()]
    if wanted:
        features = True
        by_words = [e for e in entries if _covers(book.text[e.entry_id], wanted)]
        if not by_words:
            by_words = [e for e in entries if _covers(book.text[e.entry_id] | book.filed[e.entry_id], wanted)]
        entries = by_words
    if not features:
        return _Pick(problem="say which entries (an entry id, a person, a date, or words from the notes)")
    if not entries:
        return _Pick(problem=f"nothing on this draft matches {said!r}")
    return _Pick(entries)


def _line(target: str, quotes: Sequence[str], book: DraftBook) -> tuple[str | None, str]:
    """The description of the draft's line a phrase names ("the development line", "'Design'"), or why not."""
    described = list(dict.fromkeys(ln.description for ln in book.draft.lines))
    slots = _SLOT.findall(target)
    text = quotes[int(slots[0])] if slots else re.sub(r"^(?:the)\s+|\s+line$", "", target.strip(), flags=re.I)
    for d in described:
        if d.lower() == text.strip().lower():
            return d, ""
    wanted = [_stem(w) for w in _words(text) if w not in _STOP and w != "line"]
    categories = {ln.description: ln.category for ln in book.draft.lines}
    hits = [d for d in described if wanted and _covers(
        _stems(f"{d} {categories[d].replace('_', ' ')}"), wanted)]
    if len(hits) == 1:
        return hits[0], ""
    if hits:
        return None, f"{text!r} could be the line {' or '.join(repr(h) for h in hits)}: say which"
    return None, f"no line is described {text!r} (lines: {', '.join(repr(d) for d in described)})"


# ----------------------------------------------------------------------------------------------------
# Parts and what they ask


@dataclass
class Part:
    words: str
    """The reviewer's words, quotes restored."""
    text: str
    """The same with quoted text as slots (so separators and verbs inside quotes are not read)."""


@dataclass
class Reading:
    revisions: Revisions = field(default_factory=Revisions)
    understood: list[str] = field(default_factory=list)
    cannot: list[tuple[Part, str]] = field(default_factory=list)
    final: set[int] = field(default_factory=set)
    """Indexes in `cannot` that no model can do either (rates, hours)."""


_DROP = (r"drop|remove|delete|exclude|strike|cut|scrap|omit|skip|nix|waive|write off|get rid of|"
         r"take (?:off|out)|leave (?:off|out)|(?:don'?t|do not|no) (?:bill|charge|invoice)(?: for)?|no charge for")
_MOVE = r"move|put|shift|switch|change|re-?categori[sz]e|re-?classify|file|book|categori[sz]e|classify|count"
_MAKE = r"make|mark|tag|label|call|treat|set"
_COPULA = (r"is|are|was|were|should be|should go (?:to|in|under)|belongs? (?:to|in|under)|go(?:es)? (?:to|in|under)|"
           r"(?:is|are) (?:really|actually)|counts? as")
_AHEAD = rf"(?:{_DROP}|{_MOVE}|{_MAKE}|rename|retitle|relabel|bill|charge|the|all|any|every|those|these|that)"
_RENAMES = (
    r"^(?:call|rename|name|retitle|relabel|title)\s+(?P<t>.+?)\s+(?:to\s+|as\s+)?(?P<n>\x00\d+\x00)$",
    r"^(?:rename|retitle|relabel)\s+(?P<t>.+?)\s+(?:to|as)\s+(?P<n>.+)$",
    r"^(?:call|name|change|set)\s+(?P<t>.+?\bline)\s+(?:to\s+|as\s+)?(?P<n>.+)$",
    r"^(?P<t>.+?\bline)\s+(?:should\s+)?(?:read|say|be called|be named|is called)\s+(?P<n>.+)$",
)
_RATE = re.compile(r"\brates?\b|/\s*h(?:ou)?r?\b|\bper hour\b|\ban hour\b|\bhourly\b|\bhalf[- ]price\b|\bdiscount|%|"
                   r"\bpercent\b|\bprices?\b|\b(?:bill|charge|invoice)\b.*\bat\s+(?:\d|full|cost|half|double)", re.I)
_HOURS = re.compile(r"\b(?:to|only|just|instead of|at most|max(?:imum)?|down to|up to)\s+\d+(?:\.\d+)?\s*"
                    r"(?:h|hrs?|hours?)\b|\b(?:round|reduce|increase)\b.*\bhours?\b", re.I)
_FILLER = re.compile(r"^(?:and|also|then|please|pls|plus|can you|could you|would you|let'?s|just|ok(?:ay)?|oh)\s+"
                     r"|\s+(?:please|too|as well|thanks|thank you)$", re.I)
_NOT_READ = "I could not read this as dropping entries, setting categories or renaming a line"


def split_parts(text: str) -> tuple[list[Part], list[str]]:
    """The parts of the reviewer's words, and the quoted texts their slots stand for."""
    quotes: list[str] = []

    def slot(m: re.Match[str]) -> str:
        quotes.append(next(g for g in m.groups() if g is not None))
        return f"\x00{len(quotes) - 1}\x00"

    masked = _QUOTED.sub(slot, text)
    pieces = re.split(rf"\s*(?:[;\n]|,(?!\d)|\.(?=\s|$)|\bthen\b)\s*|\s+and\s+(?={_AHEAD}\b)", masked,
                      flags=re.I)
    parts = []
    for piece in pieces:
        piece = piece.strip(" \t!?.")
        while _FILLER.search(piece):
            piece = _FILLER.sub("", piece).strip()
        if piece:
            parts.append(Part(words=_SLOT.sub(lambda m: f"'{quotes[int(m[1])]}'", piece), text=piece))
    return parts, quotes


def _clean_target(target: str) -> str:
    return re.sub(r"\s+(?:off|out|from|of)?\s*(?:the|this)?\s*(?:invoice|draft|bill)$", "", target.strip(),
                  flags=re.I)


class Grammar:
    """Reads parts one by one into a `Reading`; a part with no verb borrows the previous part's.

    Each handler returns "" when it read the part (and recorded it), else why it could not."""

    def __init__(self, book: DraftBook, quotes: Sequence[str]) -> None:
        self.book, self.quotes, self.reading = book, quotes, Reading()

    def read(self, parts: Sequence[Part]) -> Reading:
        verb = ""
        for part in parts:
            plain = _SLOT.sub(" ", part.text)
            if _RATE.search(plain) or _HOURS.search(plain):
                self.reading.final.add(len(self.reading.cannot))
                self.reading.cannot.append((part, CANNOT_RATES if _RATE.search(plain) else CANNOT_HOURS))
                continue
            used, why = self._one(part, part.text)
            if used is None and verb:
                borrowed = Part(words=f"{verb} {part.words}", text=f"{verb} {part.text}")
                used, why = self._one(borrowed, borrowed.text)
                used = verb if used is not None else None
            if used is None or why:
                self.reading.cannot.append((part, why or _NOT_READ))
            elif used:
                verb = used
        return self.reading

    def _one(self, part: Part, text: str) -> tuple[str | None, str]:
        """(the verb the part used, "" for none; None when no phrasing fits) and why it was not done."""
        for pattern in _RENAMES:
            m = re.match(pattern, text, re.I)
            if m:
                return "", self._rename(part, m["t"], m["n"])
        m = re.match(r"^(?P<v>take|leave)\s+(?P<t>.+?)\s+(?:off|out)\b.*$", text, re.I) or re.match(
            rf"^(?P<v>{_DROP})\s+(?P<t>.+)$", text, re.I)
        if m:
            return "drop", self._drop(part, _clean_target(m["t"]))
        m = re.match(rf"^(?P<v>{_MOVE}|{_MAKE})\s+(?P<rest>.+)$", text, re.I)
        if m:
            return m["v"], self._categorize_rest(part, m["rest"], bare=bool(re.fullmatch(_MAKE, m["v"], re.I)))
        m = re.match(rf"^(?P<t>.+?)\s+(?:{_COPULA})\s+(?P<c>.+)$", text, re.I)
        if m:
            category, why = _category(m["c"], self.book)
            return "", why if category is None else self._categorize(part, m["t"], category)
        return None, ""

    def _drop(self, part: Part, target: str) -> str:
        if re.search(r"\bline\b", target, re.I):
            described, why = _line(re.sub(r"^(?:all of )?the\s+", "", target, flags=re.I), self.quotes, self.book)
            if described is None:
                return why
            ids = {i for ln in self.book.draft.lines if ln.description == described for i in ln.entry_ids}
            pick = _Pick([e for e in self.book.draft.entries if e.entry_id in ids])
        else:
            pick = _select(target, self.quotes, self.book)
        if pick.problem:
            return pick.problem
        on = [e for e in pick.entries if e.outcome == "billed"]
        off = [e for e in pick.entries if e.outcome != "billed"]
        self.reading.revisions.drop.update({e.entry_id: f"the reviewer: {part.words}" for e in on})
        shown = [f"drop {self.book.show_many(on)}"] if on else []
        shown += [f"{self.book.show(e)} is already off the invoice ({self._off(e)})" for e in off]
        self.reading.understood.append(f"\"{part.words}\": {'; '.join(shown)}")
        return ""

    def _off(self, e: EntryDecision) -> str:
        if e.outcome == "held":
            return "held: " + (", ".join(self.book.kinds.get(e.entry_id, [])) or "by the engine")
        return "excluded by the client's rules or an earlier change"

    def _categorize_rest(self, part: Part, rest: str, *, bare: bool) -> str:
        """ "the workshop entries to discovery", or with `bare` (make, mark...) "e-0012 design" too."""
        splits = [(rest[: s.start()], rest[s.end():])
                  for s in reversed(list(re.finditer(r"\s+(?:to|into|under|in|as)\s+", rest, re.I)))]
        words = rest.split()
        if bare:
            splits += [(" ".join(words[:-k]), " ".join(words[-k:])) for k in range(min(4, len(words) - 1), 0, -1)]
        first_why = ""
        for target, phrase in splits:
            category, why = _category(phrase, self.book)
            if category is not None:
                return self._categorize(part, target, category)
            first_why = first_why or why
        return first_why or "say which category (e.g. \"move the workshop entries to discovery\")"

    def _categorize(self, part: Part, target: str, category: str) -> str:
        pick = _select(re.sub(r"\s+(?:a|an)$", "", target.strip(), flags=re.I), self.quotes, self.book)
        if pick.problem:
            return pick.problem
        held = [e for e in pick.entries if e.outcome == "held"]
        same = [e for e in pick.entries if e.outcome != "held" and e.category == category
                and e.entry_id not in self.reading.revisions.categories]
        moved = [e for e in pick.entries if e not in held and e not in same]
        self.reading.revisions.categories.update({e.entry_id: category for e in moved})
        shown = [f"{self.book.show(e)}: {e.category or '(none)'} -> {category}" for e in moved]
        shown += [f"{self.book.show(e)} is already {category}" for e in same]
        shown += [f"{self.book.show(e)} is {self._off(e)}, so its category changes nothing" for e in held]
        self.reading.understood.append(f"\"{part.words}\": {'; '.join(shown)}")
        return ""

    def _rename(self, part: Part, target: str, new: str) -> str:
        described, why = _line(target, self.quotes, self.book)
        name = _SLOT.sub(lambda m: self.quotes[int(m[1])], new).strip().rstrip(".")
        if described is None:
            return why
        if not name:
            return "say the line's new description"
        self.reading.revisions.descriptions[described] = name
        self.reading.understood.append(f"\"{part.words}\": the line {described!r} will read {name!r}")
        return ""
