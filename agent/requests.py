"""Understanding a request: "invoice Parallax for March" -> which clients, which period, or a question.

Deterministic and offline: people type client names misspelt, by alias or possessive ("Acme's"), and
periods as month names, "last month" or ISO dates. When a name could mean two clients the answer is a
question ("Parallax Creative or Parallel Labs?"), never a guess.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from difflib import SequenceMatcher

from pydantic import BaseModel, Field

from tools.domain import Client, Workspace
from tools.periods import Period

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

# Words of a request that are never part of a client's name.
_COMMAND_WORDS = frozenset(
    """invoice invoices invoicing draft drafts bill billing for the a an all every each clients client customers
    customer please me make create prepare run do send and of to in from period month months last this
    previous current our their s retainer retainers hourly fixed fee fixed-fee milestone milestones time
    materials monthly""".split()
)
_GENERIC_NAME_WORDS = frozenset("ltd limited inc llc gmbh plc co company corp the and of sa bv ag group".split())
MODEL_WORDS = {"hourly": "hourly", "retainer": "retainer", "retainers": "retainer", "fixed": "fixed",
               "fixed-fee": "fixed", "milestone": "fixed", "milestones": "fixed"}

EXACT = 1.0
ASK_ABOVE = 0.7  # a second client this similar makes a name ambiguous
ACCEPT = 0.85


class Target(BaseModel):
    client: str
    period: Period


class Resolution(BaseModel):
    """What a request asks for: targets to invoice, or a question back to the person."""

    targets: list[Target] = Field(default_factory=list)
    question: str | None = None
    assumptions: list[str] = Field(default_factory=list)


def _words(text: str) -> list[str]:
    text = re.sub(r"['’]s\b", "", text.lower())
    return re.findall(r"[a-z0-9][a-z0-9&.-]*[a-z0-9]|[a-z0-9]", text)


def parse_period(text: str, today: date) -> tuple[Period | None, str | None]:
    """The period a request names, and what it took to read it (None, None when it names none)."""
    if m := re.search(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|to|-|–)\s*(\d{4}-\d{2}-\d{2})", text):
        return Period.parse(f"{m[1]}..{m[2]}"), None
    if m := re.search(r"\b(\d{4})-(\d{1,2})\b", text):
        return Period.month(int(m[1]), int(m[2])), None
    lowered = text.lower()
    if re.search(r"\b(last|previous|past) month\b", lowered):
        return _last_month(today), None
    if re.search(r"\b(this|current) month\b", lowered):
        return Period.month(today.year, today.month), None
    for i, word in enumerate(_words(text)):
        month = MONTHS.get(word)
        if month is None and len(word) >= 4 and not word.isdigit():
            close = [m for m in MONTHS
                     if len(m) > 3 and m[0] == word[0] and SequenceMatcher(None, word, m).ratio() >= 0.8]
            month = MONTHS[close[0]] if close else None
        if month is None:
            continue
        after = _words(text)[i + 1 : i + 2]
        if after and re.fullmatch(r"\d{4}", after[0]):
            return Period.month(int(after[0]), month), None
        year = today.year if month <= today.month else today.year - 1
        name = calendar.month_name[month]
        return Period.month(year, month), f"took {name} to mean {name} {year}"
    return None, None


def _last_month(today: date) -> Period:
    return Period.month(today.year, today.month - 1) if today.month > 1 else Period.month(today.year - 1, 12)


def _name_variants(client: Client) -> list[list[str]]:
    variants = [_words(client.id.replace("_", " ")), _words(client.name)] + [_words(a) for a in client.aliases]
    return [v for v in variants if v]


class Match(BaseModel):
    score: float
    partial: bool = False
    """True when only one word of a longer name matched ("Parallax" for "Parallax Creative")."""


def score_client(words: list[str], client: Client) -> Match:
    """How well the request's words name this client: 1.0 for its id, full name or an alias."""
    best = Match(score=0.0)
    for variant in _name_variants(client):
        n = len(variant)
        target = " ".join(variant)
        for i in range(len(words) - n + 1):
            gram = " ".join(words[i : i + n])
            score = EXACT if gram == target else SequenceMatcher(None, gram, target).ratio()
            if score > best.score:
                best = Match(score=score)
        for token in variant:
            if n == 1 or len(token) < 3 or token in _GENERIC_NAME_WORDS:
                continue
            for word in words:
                score = 0.95 * SequenceMatcher(None, word, token).ratio()
                if score > best.score:
                    best = Match(score=score, partial=True)
    return best


def resolve_request(text: str, workspace: Workspace, today: date) -> Resolution:
    """Read which clients and which period a request means, or the question to ask back."""
    period, assumption = parse_period(text, today)
    assumptions = [assumption] if assumption else []
    if period is None:
        period = _last_month(today)
        assumptions.append(f"no period named: took last month, {period}")
    words = _words(text)
    month_words = set(MONTHS) | {str(y) for y in range(2000, 2100)}
    name_words = [
        w for w in words if w not in _COMMAND_WORDS and w not in month_words and not re.match(r"\d{4}-", w)
    ]

    if re.search(r"\b(all|every|each)\b", text.lower()) and re.search(r"\bclients?\b|\bcustomers?\b", text.lower()):
        models = {MODEL_WORDS[w] for w in words if w in MODEL_WORDS}
        chosen = [c for c in workspace.clients if not models or c.billing.model in models]
        if not chosen:
            return Resolution(question=f"No client is billed {' or '.join(sorted(models))}.")
        return Resolution(targets=[Target(client=c.id, period=period) for c in chosen], assumptions=assumptions)

    scored = sorted(((score_client(name_words, c), i, c) for i, c in enumerate(workspace.clients)),
                    key=lambda t: (-t[0].score, t[1]))
    if not scored or scored[0][0].score < ASK_ABOVE:
        known = ", ".join(c.name for c in workspace.clients)
        return Resolution(question=f"Which client do you mean? I know: {known}.")
    top, _, client = scored[0]
    best = top.score
    exact = [c for m, _, c in scored if m.score >= EXACT]
    if len(exact) > 1:
        return Resolution(targets=[Target(client=c.id, period=period) for c in exact], assumptions=assumptions)
    # A partial or fuzzy name is ambiguous when another client's name is nearly as close.
    rivals = [c for m, _, c in scored[1:] if m.score >= ASK_ABOVE and (top.partial or m.score > best - 0.1)]
    if best < EXACT and rivals:
        names = [client.name, *(c.name for c in rivals)]
        return Resolution(question=f"{', '.join(names[:-1])} or {names[-1]}?")
    if best < ACCEPT:
        return Resolution(question=f"Did you mean {client.name}?")
    if best < EXACT:
        assumptions.append(f"took {' '.join(name_words)!r} to mean {client.name}")
    return Resolution(targets=[Target(client=client.id, period=period)], assumptions=assumptions)
