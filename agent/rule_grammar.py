"""Reading client rules in plain words, offline: "doesn't pay for internal meetings; travel at half rate".

The text is cut into clauses (at `;`, sentence ends, commas and "and"), and each clause is matched against
a small grammar of the rules clients.yaml can hold: exclude, rate (absolute or relative), discount, cap,
rollup, code, rounding and grouping. Where a clause could be cut more than one way, the cut that reads the
most words wins. Names are resolved against the client's world (`Vocabulary`): categories by catalogue
id or label (plurals and "&"-parts of labels too), people by the client's entries, roles by people.csv.

The grammar only reads; it computes nothing. Each reading is a `ProposedRule`, the same schema a model
answers in, so that one builder (agent/rules.py) turns either into a validated rule. What it cannot read,
or cannot resolve, it says, in words a person can act on; it never picks one of two meanings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from tools.domain import Client, GroupBy, Workspace
from tools.money import D

__all__ = ["Clause", "ProposedRule", "Unclear", "Vocabulary", "read_rules"]

RuleKind = Literal["exclude", "rate", "discount", "cap", "rollup", "code", "rounding", "group_by"]


class ProposedRule(BaseModel):
    """One rule read from a person's words, by the grammar or by a model; code validates every field."""

    kind: RuleKind
    words: str = Field(description="the person's words this rule comes from, quoted exactly")
    category: str | None = Field(default=None, description="a catalogue category id")
    person: str | None = Field(default=None, description="a person with time for this client, as listed")
    role: str | None = Field(default=None, description="a role, as listed")
    project_code: str | None = Field(default=None, description="exclude: a project code, as listed")
    everyone: bool = Field(default=False, description="rate: the default rate for all other work")
    mentions: list[str] = Field(default_factory=list,
                                description="exclude or rollup: words the entry's notes or task mention")
    rate: str | None = Field(default=None, description="rate: an hourly rate the person wrote, e.g. \"150.00\"")
    factor: str | None = Field(default=None, description="rate: a multiple of the current rate, e.g. \"0.5\"")
    percent: str | None = Field(default=None, description="discount: percent off, \"0\" to \"100\"")
    amount: str | None = Field(default=None, description="cap: the most an invoice may come to before tax")
    hours: str | None = Field(default=None, description="cap: the most hours an invoice may bill")
    into: str | None = Field(default=None, description="rollup: the name of the one line")
    code: str | None = Field(default=None, description="code: the billing code, as the person wrote it")
    increment_minutes: int | None = Field(default=None, description="rounding: the increment in minutes")
    mode: Literal["up", "nearest", "none"] | None = Field(default=None, description="rounding: the mode")
    group_by: GroupBy | None = Field(default=None, description="group_by: how lines are grouped")
    explanation: str = Field(default="", max_length=300, description="one sentence for the person")


@dataclass
class Clause:
    """A run of the person's words and what the grammar made of it (nothing, when `readings` is None)."""

    words: str
    readings: list[ProposedRule] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def read(self) -> bool:
        return self.readings is not None


class Unclear(ValueError):
    """A clause has the shape of a rule, but a name or figure in it cannot be resolved; says why."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown
        """True when a name is not known at all (rather than known twice)."""


# ----------------------------------------------------------------------------------------------------
# Words and names


def singular(word: str) -> str:
    """A plain English singular, good enough to compare "meetings" with "meeting"."""
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def key(text: str) -> str:
    """Lower case, singular words, no punctuation: "Account & client meetings" -> "account and client meeting"."""
    text = text.lower().replace("&", " and ").replace("_", " ").replace("-", " ")
    return " ".join(singular(w) for w in re.findall(r"[a-z0-9]+", text))


_FILLERS = frozenset(key("""the any all time times work hours spent on for of our their its entry entries
    activity activities anything logged billed billable""").split())
_ROLE_FILLERS = frozenset(key("staff people level members member team consultants grade").split())
_EVERYONE = frozenset(key(w) for w in (
    "everyone", "everybody", "everyone else", "everybody else", "everything", "everything else", "all other work",
    "other work", "default", "the default", "default rate", "the default rate", "standard rate", "all work",
    "anyone", "anyone else", "base rate", "the rest", "rest", "all hours", "everything by default"))


def _without(words: str, fillers: frozenset[str]) -> str:
    return " ".join(w for w in words.split() if w not in fillers)


def _name(text: str) -> str:
    text = re.sub(r"['’]s\b", "", text.lower())
    return " ".join(re.findall(r"[a-z0-9]+", text))


Kind = Literal["category", "person", "role", "project", "everyone"]


@dataclass(frozen=True)
class Target:
    kind: Kind
    key: str


@dataclass(frozen=True)
class Vocabulary:
    """The names a person may use about one client: categories, people, roles, project codes."""

    client_id: str
    client_name: str
    client_names: tuple[str, ...]
    currency: str
    categories: dict[str, str]
    people: tuple[str, ...]
    roles: tuple[str, ...]
    project_codes: tuple[str, ...]

    @classmethod
    def of(cls, workspace: Workspace, client: Client) -> Vocabulary:
        own = [e for e in workspace.entries if e.client == client.id]
        roles = {p.role for p in workspace.people if p.role} | set(client.rates.by_role)
        return cls(
            client_id=client.id,
            client_name=client.name,
            client_names=tuple(n for n in (client.id, client.name, *client.aliases) if n),
            currency=client.currency,
            categories={c.id: c.label for c in workspace.settings.categories},
            people=tuple(sorted({e.person for e in own})),
            roles=tuple(sorted(roles)),
            project_codes=tuple(sorted({e.project_code for e in own if e.project_code})),
        )

    def _category_matches(self, words: str) -> list[tuple[int, str]]:
        found = []
        for cid, label in self.categories.items():
            full = {key(cid), key(label)}
            parts = {key(p) for p in re.split(r"\s*(?:&|\band\b|,|/)\s*", label) if key(p)} - full
            forms = full | parts
            if words in full:
                found.append((0, cid))
            elif words in parts:
                found.append((1, cid))
            elif any(f.endswith(" " + words) for f in forms):
                found.append((2, cid))
        return found

    def _person_matches(self, name: str) -> list[tuple[int, str]]:
        found = []
        for person in self.people:
            parts = _name(person).split()
            if name == " ".join(parts):
                found.append((0, person))
            elif parts and name in (parts[0], parts[-1]):
                found.append((1, person))
        return found

    def resolve(self, text: str, kinds: Iterable[Kind]) -> Target:
        """The one category, person, role, project or "everyone" that `text` names; `Unclear` otherwise."""
        allowed = set(kinds)
        raw = key(text)
        words = [raw, _without(raw, _FILLERS)]
        found: list[tuple[int, Target]] = []
        for variant in dict.fromkeys(w for w in words if w):
            if "category" in allowed:
                found += [(level, Target("category", cid)) for level, cid in self._category_matches(variant)]
            if "role" in allowed:
                bare = _without(variant, _ROLE_FILLERS)
                found += [(0, Target("role", r)) for r in self.roles if key(r) in (variant, bare)]
            if "everyone" in allowed and variant in _EVERYONE:
                found.append((0, Target("everyone", "")))
        if "person" in allowed:
            name = _name(text)
            for variant in dict.fromkeys((name, _without(name, _FILLERS))):
                found += [(level, Target("person", p)) for level, p in self._person_matches(variant)]
        if "project" in allowed:
            code = re.sub(r"^(?:the\s+)?project\s+", "", text.strip(), flags=re.I).strip("'\" ").upper()
            found += [(0, Target("project", p)) for p in self.project_codes if p.upper() == code]
        if not found:
            raise Unclear(self.unknown([text], allowed), unknown=True)
        best = min(level for level, _ in found)
        targets = list(dict.fromkeys(t for level, t in found if level == best))
        if len(targets) > 1:
            named = [f"{t.kind} {t.key}" if t.key else "everyone" for t in targets]
            raise Unclear(f"{text.strip()!r} could mean {', '.join(named[:-1])} or {named[-1]}: name one")
        return targets[0]

    def unknown(self, names: list[str], allowed: set[Kind]) -> str:
        """Why `names` name nothing: what they could have named."""
        def listed(items: Iterable[str]) -> str:
            items = list(items)
            return ", ".join(items[:12]) + (f" and {len(items) - 12} more" if len(items) > 12 else "")

        options = []
        if "category" in allowed:
            options.append(f"a category ({listed(self.categories)})")
        if "role" in allowed:
            options.append(f"a role ({listed(self.roles) or 'none'})")
        if "person" in allowed:
            options.append(f"a person with time for {self.client_name} ({listed(self.people) or 'none'})")
        if "project" in allowed:
            options.append(f"one of its project codes ({listed(self.project_codes) or 'none'})")
        quoted = [repr(n.strip()) for n in names]
        said = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
        verb = "is not" if len(quoted) == 1 else "are not"
        return f"{said} {verb} {', '.join(options[:-1])}{' or ' if len(options) > 1 else ''}{options[-1]}"


# ----------------------------------------------------------------------------------------------------
# Figures

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONEY = (rf"(?P<cur>[£$€])?\s*(?P<num>{_NUM})\s*(?P<k>k\b)?"
          r"(?:\s*(?P<code>gbp|usd|eur|cad|aud|chf|pounds?|dollars?|euros?)\b)?")
_PER_HOUR = r"\s*/\s*(?:h|hr|hour)\b|\s+(?:an|per|a|each|every)\s+(?:hour|hr)\b|\s*p/?h\b|\s+hourly\b"
_PER_OTHER = r"\s*/\s*(?:day|month|week)\b|\s+(?:a|per|each)\s+(?:day|month|week)\b|\s+(?:daily|monthly|weekly)\b"
_SYMBOLS = {"£": ("GBP",), "€": ("EUR",), "$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN")}
_CODES = {"gbp": ("GBP",), "pound": ("GBP",), "pounds": ("GBP",), "usd": ("USD",), "eur": ("EUR",),
          "euro": ("EUR",), "euros": ("EUR",), "cad": ("CAD",), "aud": ("AUD",), "chf": ("CHF",),
          "dollar": _SYMBOLS["$"], "dollars": _SYMBOLS["$"]}


def money(m: re.Match[str], vocab: Vocabulary) -> Decimal:
    """The amount a `_MONEY` match wrote ("£5,000", "8k"), in the client's currency or `Unclear`."""
    value = D(m["num"].replace(",", "")) * (1000 if m["k"] else 1)
    said = m["cur"] or (m["code"] or "").lower()
    currencies = _SYMBOLS.get(said) or _CODES.get(said)
    if currencies and vocab.currency not in currencies:
        raise Unclear(f"{said!r} is not {vocab.currency}, the currency {vocab.client_name} is billed in")
    return value


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


# ----------------------------------------------------------------------------------------------------
# The grammar: one function per kind of rule; each returns None when the clause is not of its kind.

Reader = Callable[[str, Vocabulary], Sequence[ProposedRule | Unclear] | None]
"""Reads one kind of rule: None when the clause is not of that kind; an `Unclear` for what it cannot resolve."""
_SEP = re.compile(r"(\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|nor|plus)\s+|\s*/\s*)", re.I)


def _full(pattern: str, text: str) -> re.Match[str] | None:
    return re.fullmatch(pattern, text, flags=re.I)


def _targets(what: str, vocab: Vocabulary, kinds: tuple[Kind, ...]) -> tuple[list[Target], Unclear | None]:
    """The targets of a list ("internal meetings, travel or admin"), and what names none of them.

    A label with "and" or "&" in it ("QA & testing") stays whole."""
    pieces = _SEP.split(what.strip())
    names = [re.sub(r"^(?:no|not|nor|any|all)\s+", "", n, flags=re.I) for n in pieces[::2]]
    seps = pieces[1::2]
    targets: list[Target] = []
    unknown: list[str] = []
    unclear: list[str] = []
    i = 0
    while i < len(names):
        for j in range(len(names), i, -1):
            joined = "".join(n + s for n, s in zip(names[i:j], [*seps[i : j - 1], ""], strict=True))
            try:
                targets.append(vocab.resolve(joined, kinds))
            except Unclear as exc:
                if j == i + 1:
                    (unknown if exc.unknown else unclear).append(names[i] if exc.unknown else str(exc))
                continue
            i = j
            break
        else:
            i += 1
    if unknown or unclear:
        return targets, Unclear("; ".join([*([vocab.unknown(unknown, set(kinds))] if unknown else []), *unclear]))
    return targets, None


def _mentions(what: str) -> list[str]:
    """The words entries must mention ("all the bug fixes and hotfixes" -> bug fixes, hotfixes)."""
    terms = []
    for term in _SEP.split(what)[::2]:
        term = re.sub(r"^(?:(?:all|the|any|entries|time|work)\s+(?:on\s+|for\s+|the\s+)?)+", "", term.strip(" '\""),
                      flags=re.I)
        bare = re.sub(r"(?:\s+(?:work|time|entries|tasks|hours|stuff|items))+$", "", term, flags=re.I)
        if re.search(r"\w", bare):
            terms.append(bare)
    return terms


_INC = (r"(?:(?P<n>\d+)[\s-]*(?:minutes?|mins?|m)\b|(?P<word>quarter(?:[\s-]+(?:of\s+an\s+)?hour)?|"
        r"tenth(?:\s+of\s+an\s+hour)?|half[\s-]+(?:an\s+)?hour|hour|minute))")
_DIR = r"(?P<dir>up|down|off|to\s+the\s+nearest|nearest)"
_DIR2 = r"(?:,?\s+(?P<dir2>rounded\s+up|rounding\s+up|up|rounded\s+down|down|rounded\s+to\s+the\s+nearest|nearest))?"
_INC_WORDS = {"quarter": 15, "tenth": 6, "half": 30, "hour": 60, "minute": 1}


def _rounding(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    if _full(r"no\s+rounding|(?:don't|do\s+not|never)\s+round(?:\s+\w+)?|(?:bill\s+)?(?:the\s+)?(?:exact|actual)\s+"
             r"(?:time|hours|minutes)(?:\s+logged)?|(?:bill\s+)?(?:time\s+)?as\s+logged", c):
        return [ProposedRule(kind="rounding", words=c, increment_minutes=1, mode="none")]
    m = (_full(r"(?:round|rounded|rounding)(?:\s+(?:each\s+entry|entries|time|hours|all\s+time|everything))?"
               rf"(?:\s+{_DIR})?(?:\s+(?:to|in|by))?(?:\s+the)?(?:\s+nearest)?\s+(?:(?:a|an|one)\s+)?{_INC}"
               rf"(?:\s+(?:increments?|blocks?|units?))?{_DIR2}", c)
         or _full(r"(?:(?:bill(?:ed)?|charge(?:d)?|track(?:ed)?|time)\s+)?(?:(?:in|by)\s+)?(?:(?:a|an|one)\s+)?"
                  rf"{_INC}\s+(?:increments?|blocks?|units?|chunks?){_DIR2}", c)
         or _full(rf"(?:(?:bill(?:ed)?|charge(?:d)?)\s+)?(?:in\s+)?(?:increments?|blocks?|units?)\s+of\s+"
                  rf"(?:(?:a|an|one)\s+)?{_INC}{_DIR2}", c))
    if m is None:
        return None
    minutes = int(m["n"]) if m["n"] else _INC_WORDS[re.split(r"[\s-]", m["word"].lower())[0]]
    said = " ".join(((m.groupdict().get("dir") or "") + " " + (m["dir2"] or "")).lower().split())
    if "down" in said:
        raise Unclear("clients.yaml rounds up, to the nearest, or not at all: rounding down is not one of them")
    mode: Literal["up", "nearest"] | None = "up" if "up" in said else "nearest" if said else None
    return [ProposedRule(kind="rounding", words=c, increment_minutes=minutes, mode=mode)]


_GROUPS: dict[str, GroupBy] = {
    **dict.fromkeys(["person", "people", "staff", "staff member", "team member", "consultant", "employee",
                     "name", "member"], "person"),
    **dict.fromkeys(["task", "ticket", "project task"], "task"),
    **dict.fromkeys(["category", "activity", "type of work", "kind of work", "service"], "category"),
    **dict.fromkeys(["entry", "time entry", "individual entry"], "detailed"),
}


def _grouping(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = _full(r"(?:(?:one|a|1|separate)\s+lines?\s+(?:per|for\s+each|for\s+every|by|for)|group(?:ed)?\s+(?:the\s+)?"
              r"(?:lines?\s+|invoice\s+|everything\s+)?by|lines?\s+(?:by|per)|split\s+(?:the\s+)?"
              r"(?:lines?\s+|invoice\s+)?by|(?:itemi[sz]e|list)\s+(?:the\s+)?(?:lines?\s+|invoice\s+|time\s+)?by)"
              r"\s+(?P<g>\w+(?:\s+\w+){0,2})", c)
    if m is not None:
        group = _GROUPS.get(" ".join(singular(w) for w in m["g"].lower().split()))
        if group is None:
            raise Unclear(f"lines can be grouped by category, task or person, or one per entry; not by {m['g']!r}")
        return [ProposedRule(kind="group_by", words=c, group_by=group)]
    if _full(r"(?:itemi[sz]e|list|show)(?:\s+(?:every|each|all))?(?:\s+(?:the\s+)?(?:time\s+)?(?:entry|entries))?"
             r"(?:\s+(?:separately|individually|on\s+(?:its|their)\s+own\s+lines?))?|(?:detailed|itemi[sz]ed)"
             r"(?:\s+(?:lines|invoices?|billing))?|(?:every|each)\s+entry\s+(?:on\s+)?(?:its\s+own|a\s+separate)\s+line",
             c):
        return [ProposedRule(kind="group_by", words=c, group_by="detailed")]
    return None


def _discount(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    pct = r"(?P<pct>\d+(?:\.\d+)?)\s*(?:%|percent|per\s+cent|pct)"
    m = (_full(r"(?:(?:give|gives|get|gets|offer|offers|apply|with|take|takes)\s+(?:them\s+|the\s+client\s+)?)?"
               rf"(?:a\s+|an\s+)?{pct}\s*(?:off|discount|reduction|rebate)(?:\s+(?:on|off|from)\s+(?:everything|all|"
               r"the\s+total|the\s+subtotal|each\s+invoice|every\s+invoice|all\s+invoices|all\s+work|the\s+invoice))?",
               c)
         or _full(rf"(?:(?:give|gives|get|gets|offer|apply)\s+(?:them\s+)?)?(?:a\s+)?discount\s+(?:of\s+)?{pct}", c))
    if m is None:
        return None
    return [ProposedRule(kind="discount", words=c, percent=m["pct"])]


_CAP_LEAD = (r"(?:(?:a|an|the)\s+)?(?:(?:monthly|invoice|hard|total)\s+)?(?:cap(?:ped)?|limit(?:ed)?|max(?:imum|ed)?|"
             r"ceiling|(?:never|not|no)\s+more\s+than|not\s+to\s+exceed|(?:never|don't|do\s+not|must\s+not|mustn't|"
             r"shouldn't|should\s+not|can't|cannot|won't)\s+(?:exceed|go\s+over|go\s+above|be\s+more\s+than|"
             r"(?:bill|charge|invoice|pay)\s+(?:them\s+)?(?:for\s+)?more\s+than)|at\s+most|up\s+to|no\s+higher\s+than)")
_CAP_FILL = (r"(?:\s+(?:it|them|invoices?|each\s+invoice|every\s+invoice|the\s+invoice|the\s+bill|bills?|billing|"
             r"the\s+total|totals?|spend|at|to|of|on|for|is|the|a|month|monthly|per\s+month))*")
_PER = (r"(?:\s*(?:a|per|each|every|/|an)\s*(?P<per>month|invoice|period|week|year|day|quarter|fortnight)|"
        r"\s+(?P<per2>monthly|weekly|yearly|annually|daily|quarterly))?(?:\s+(?:before|excluding|excl\.?|ex)\s+"
        r"(?:tax|vat))?")


def _cap(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = _full(rf"{_CAP_LEAD}{_CAP_FILL}\s+{_MONEY}(?P<hours>\s*(?:hours?|hrs?|h)\b)?{_PER}", c)
    if m is None:
        return None
    per = (m["per"] or m["per2"] or "").lower()
    if per and per not in ("month", "invoice", "period", "monthly"):
        raise Unclear(f"clients.yaml caps each invoice (one period's work), not a {per.removesuffix('ly')}")
    if m["hours"]:
        return [ProposedRule(kind="cap", words=c, hours=_text(D(m["num"].replace(",", ""))))]
    return [ProposedRule(kind="cap", words=c, amount=_text(money(m, vocab)))]


_CODE = r"[\"']?(?P<code>[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]|[A-Za-z0-9])[\"']?"
_CODE_WORD = r"(?:the\s+)?(?:(?:billing|activity|utbms|ledes|task|line)\s+)?code"


def _code(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = (_full(r"(?:bill|put|show|invoice|label|tag|mark|list)\s+(?P<what>.+?)\s+(?:under|with|as|using)\s+"
               rf"{_CODE_WORD}\s+{_CODE}", c)
         or _full(rf"(?:use\s+)?{_CODE_WORD}\s+{_CODE}\s+(?:for|on)\s+(?:all\s+)?(?P<what>.+)", c)
         or _full(rf"(?P<what>.+?)\s+(?:gets|get|has|have|is|are|goes\s+under|go\s+under|under|with|uses|use|takes)\s+"
                  rf"{_CODE_WORD}\s+{_CODE}", c)
         or _full(rf"code\s+(?P<what>.+?)\s+as\s+{_CODE}", c))
    if m is None:
        return None
    target = vocab.resolve(m["what"], ("category",))
    return [ProposedRule(kind="code", words=c, category=target.key, code=m["code"])]


MAX_LINE_WORDS = 8
_ONE_LINE = (r"(?:one|a|a\s+single|single|1)\s+(?:line|item|row|entry)(?:\s+(?:called|named|titled|labell?ed)\s+"
             r"(?P<name>.+))?")


def _rollup(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = (_full(r"(?:roll(?:s|ed)?|rolling)\s+up\s+(?P<what>.+?)(?:\s+(?:into|in|as|under|on|onto)\s+(?P<into>.+))?", c)
         or _full(r"(?:combine|merge|group|lump|bundle|collapse|consolidate|put)\s+(?P<what>.+?)\s+(?:into|in|as|under|"
                  r"on|onto)\s+(?P<into>.+)", c)
         or _full(r"(?P<what>.+?)\s+(?:on|in|as|into)\s+(?:a\s+single|one|a)\s+line", c))
    if m is None:
        return None
    mentions = _mentions(m["what"])
    if not mentions:
        raise Unclear(f"say which entries to roll up in {c!r}")
    into = (m.groupdict().get("into") or "").strip()
    if re.search(r"[,;]", into) or len(into.split()) > MAX_LINE_WORDS:
        return None  # a line name, not the rest of the sentence
    one = _full(_ONE_LINE, into) if into else None
    if one is not None:
        into = one["name"] or ""
    into = re.sub(r"^(?:the|a)\s+|\s+line$", "", into.strip(" '\"."), flags=re.I).strip(" '\"")
    if not into:
        text = " & ".join(mentions)
        into = text[:1].upper() + text[1:]
    return [ProposedRule(kind="rollup", words=c, mentions=mentions, into=into)]


_NOT_PAY = (r"(?:does\s+not|doesn't|doesnt|do\s+not|don't|dont|won't|will\s+not|wont|never|shouldn't|should\s+not|"
            r"can't|cannot|refuses?\s+to|not)\s+(?:want\s+to\s+)?(?:pay|be\s+billed|be\s+charged|be\s+invoiced|bill|"
            r"charge|invoice|accept)(?:\s+(?:them|the\s+client|it|us|anything))?(?:\s+(?:for|on))?")
_NO = r"(?:no|exclude|excluding|drop|skip|remove|without|stop\s+(?:billing|charging)(?:\s+for)?|never\s+bill)"
_FREE = (r"(?:is|are|should\s+be|must\s+be|stays?|goes|go)\s+(?:not\s+billable|non[- ]?billable|unbillable|free|"
         r"not\s+billed|not\s+charged|excluded|on\s+us|on\s+the\s+house|free\s+of\s+charge|written\s+off|"
         r"not\s+chargeable|unbilled)|(?:for\s+free|free\s+of\s+charge|at\s+no\s+charge|on\s+the\s+house)")


def _exclude(c: str, vocab: Vocabulary) -> list[ProposedRule | Unclear] | None:
    m = _full(rf"(?:{_NOT_PAY}|{_NO})\s+(?:any\s+)?(?:entries|entry|time|anything|work|notes|hours)\s+(?:that\s+)?"
              r"(?:mention(?:s|ing)?|contain(?:s|ing)?|with|about|matching|tagged|saying|says)\s+(?P<words>.+)", c)
    if m is not None:
        return [ProposedRule(kind="exclude", words=c, mentions=_mentions(m["words"]))]
    m = (_full(rf"{_NOT_PAY}\s+(?P<what>.+)", c) or _full(rf"{_NO}\s+(?P<what>.+)", c)
         or _full(rf"(?P<what>.+?)\s+{_FREE}", c))
    if m is None:
        return None
    targets, problem = _targets(m["what"], vocab, ("category", "person", "project"))
    readings: list[ProposedRule | Unclear] = [
        ProposedRule(kind="exclude", words=c, category=t.key if t.kind == "category" else None,
                     person=t.key if t.kind == "person" else None,
                     project_code=t.key if t.kind == "project" else None)
        for t in targets
    ]
    return readings if problem is None else [*readings, problem]


_FACTOR = (r"(?P<f>half|double|twice|triple|three\s+times|a\s+quarter\s+of|quarter|three\s+quarters\s+of|"
           r"time\s+and\s+a\s+half|one\s+and\s+a\s+half\s+times|(?P<fpct>\d+(?:\.\d+)?)\s*(?:%|percent|per\s+cent)"
           r"(?:\s+of)?|(?P<fx>\d+(?:\.\d+)?)\s*x)")
_RATE_WORD = (r"(?:\s+(?:the\s+|their\s+|its\s+|our\s+|his\s+|her\s+)?(?:(?:usual|normal|standard|full|regular|current|"
              r"hourly|default)\s+)*(?:rate|price|fee)s?)")
_FACTORS = {"half": "0.5", "double": "2", "twice": "2", "triple": "3", "three times": "3", "a quarter of": "0.25",
            "quarter": "0.25", "three quarters of": "0.75", "time and a half": "1.5", "one and a half times": "1.5"}
_BILLED_AT = r"(?:(?:is|are|gets?|will\s+be|should\s+be)\s+)?(?:billed|charged|invoiced)\s+at"
_RATE_KINDS: tuple[Kind, ...] = ("category", "person", "role", "everyone")


def _rate_rule(words: str, who: str, vocab: Vocabulary, *, rate: str | None = None,
               factor: str | None = None) -> ProposedRule:
    target = vocab.resolve(who, _RATE_KINDS)

    def of(kind: Kind) -> str | None:
        return target.key if target.kind == kind else None

    return ProposedRule(kind="rate", words=words, category=of("category"), person=of("person"), role=of("role"),
                        everyone=target.kind == "everyone", rate=rate, factor=factor)


def _relative_rate(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = (_full(rf"(?:bill|charge)\s+(?P<who>.+?)\s+at\s+{_FACTOR}{_RATE_WORD}?", c)
         or _full(rf"(?P<who>.+?)\s+(?:at|for|{_BILLED_AT}|is|are|gets?|costs?|on)\s+{_FACTOR}{_RATE_WORD}?", c)
         or _full(rf"{_FACTOR}[\s-]?(?:rate|price)\s+(?:for\s+)?(?P<who>.+)", c)
         or _full(rf"(?P<who>.+?)\s+(?:is\s+|are\s+|at\s+)?{_FACTOR}[\s-](?:rate|price)", c))
    if m is None:
        return None
    if m["fpct"]:
        factor = _text(D(m["fpct"]) / 100)
    elif m["fx"]:
        factor = _text(D(m["fx"]))
    else:
        factor = _FACTORS[" ".join(m["f"].lower().split())]
    return [_rate_rule(c, m["who"], vocab, factor=factor)]


_RATE_PER = rf"(?P<per>{_PER_HOUR}|{_PER_OTHER})?"


def _rate(c: str, vocab: Vocabulary) -> list[ProposedRule] | None:
    m = (_full(r"(?:the\s+)?(?:hourly\s+)?rate\s+(?:for|of)\s+(?P<who>.+?)\s+(?:is|=|:|at|to|should\s+be|becomes|of)\s+"
               rf"{_MONEY}{_RATE_PER}", c)
         or _full(rf"(?:bill|charge|price|invoice)\s+(?P<who>.+?)\s+(?:at|@)\s+{_MONEY}{_RATE_PER}", c)
         or _full(r"(?:set|make|change|put|raise|lower)\s+(?P<who>.+?)(?:'s)?(?:\s+(?:hourly\s+)?rate)?\s+(?:to|at)\s+"
                  rf"{_MONEY}{_RATE_PER}", c)
         or _full(rf"(?:charge|bill)\s+{_MONEY}{_RATE_PER}\s+(?:for|on)\s+(?P<who>.+)", c)
         or _full(rf"(?P<who>.+?)(?:'s)?\s+(?:hourly\s+)?rate\s*(?:[:=@]\s*|\s+(?:is|at|of|to|should\s+be)\s+|\s+)"
                  rf"{_MONEY}{_RATE_PER}", c)
         or _full(rf"(?P<who>.+?)\s*(?:\s(?:at|is|are|{_BILLED_AT}|costs?|goes\s+to|becomes|should\s+be)\s+|"
                  rf"\s*[@=:]\s*)(?:now\s+)?{_MONEY}{_RATE_PER}", c))
    if m is None:
        return None
    per = (m["per"] or "").strip(" /").lower()
    if per and not re.search(r"h|hour|hr|hourly", per):
        raise Unclear(f"clients.yaml rates are hourly; {m[0].strip()!r} is not")
    return [_rate_rule(c, m["who"], vocab, rate=_text(money(m, vocab)))]


READERS: tuple[Reader, ...] = (_rounding, _grouping, _discount, _cap, _code, _rollup, _exclude, _relative_rate, _rate)


# ----------------------------------------------------------------------------------------------------
# Clauses


def _clean(c: str, vocab: Vocabulary) -> str:
    c = " ".join(c.split()).strip(" .!,:;-")
    names = "|".join(re.escape(n) for n in sorted(vocab.client_names, key=len, reverse=True))
    lead = (r"^(?:(?:and|but|also|plus|then|please|so|oh|ok|okay|now|from\s+now\s+on|going\s+forward|in\s+future|"
            r"in\s+the\s+future|note\s+that|remember\s+that)[,:]?\s+)+")
    subject = (rf"^(?:(?:the\s+)?client|they|he|she|we|(?:i|we)\s+(?:want|would\s+like)\s+to|let's|(?:we\s+)?should|"
               rf"{names})(?:'s)?\s+(?:also\s+|only\s+)?")
    for _ in range(2):
        c = re.sub(lead, "", c, flags=re.I)
        c = re.sub(subject, "", c, flags=re.I)
    c = re.sub(rf"\s+(?:please|thanks|thank\s+you|from\s+now\s+on|going\s+forward|for\s+(?:this\s+client|them|"
               rf"{names}))$", "", c, flags=re.I)
    return c.strip(" .!,:;-")


def read_clause(words: str, vocab: Vocabulary) -> Clause:
    """One clause: the first reader whose shape it has reads it (or says what it cannot resolve)."""
    text = _clean(words, vocab)
    for reader in READERS:
        try:
            readings = reader(text, vocab)
        except Unclear as exc:
            return Clause(words.strip(), [], [f"I can't turn {words.strip()!r} into a rule: {exc}"])
        if readings is not None:
            said = words.strip()
            return Clause(said, [r.model_copy(update={"words": said}) for r in readings if isinstance(r, ProposedRule)],
                          [f"I can't turn {said!r} into a rule: {r}" for r in readings if isinstance(r, Unclear)])
    return Clause(words.strip())


_SENTENCES = re.compile(r"[;\n]+|(?<=[.!?])\s+")
_PARTS = re.compile(r"(,\s+|\s+(?:and|but|plus|while|whereas|also|then)\s+)", re.I)
MAX_TEXT = 2000


def read_rules(text: str, vocab: Vocabulary) -> list[Clause]:
    """The person's text as clauses, each read or not; the cut of each sentence that reads the most words."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')[:MAX_TEXT]
    clauses: list[Clause] = []
    for sentence in _SENTENCES.split(text):
        if sentence.strip(" .!?,"):
            clauses += _best_cut(sentence.strip().rstrip("."), vocab)
    return clauses


def _best_cut(sentence: str, vocab: Vocabulary) -> list[Clause]:
    pieces = _PARTS.split(sentence)
    parts, seps = pieces[::2], pieces[1::2]
    n = len(parts)
    # best[i]: the cheapest cut of parts[:i]; cost = (words not read, problems, clauses)
    best: list[tuple[tuple[int, int, int], list[Clause]]] = [((0, 0, 0), [])]
    cache: dict[tuple[int, int], Clause] = {}
    for i in range(1, n + 1):
        options: list[tuple[tuple[int, int, int], list[Clause]]] = []
        for j in range(i):
            if (j, i) not in cache:
                joined = "".join(p + s for p, s in zip(parts[j:i], [*seps[j : i - 1], ""], strict=True))
                cache[j, i] = read_clause(joined, vocab)
            clause = cache[j, i]
            (unread, problems, count), clauses = best[j]
            cost = (unread + (0 if clause.read else len(clause.words.split())), problems + len(clause.problems),
                    count + 1)
            options.append((cost, [*clauses, clause]))
        best.append(min(options, key=lambda option: option[0]))
    return [c for c in best[n][1] if c.words]
