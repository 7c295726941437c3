"""The words of a request: tokens that remember where they came from, and what words can name.

A request is read token by token (`tokenize`): each token keeps its place in the person's text, so a
question back can quote them exactly ("What do you mean by 'website'?"). Tokens are compared in one
normal form: lower case, "Acme's" as "acme" (marked possessive), "15th" as "15", "two" as "2", "&" as
"and", and month names in full ("Aug" -> "august").

The word lists below say which words place nothing (filler: "please", "the invoices"), which start a
leave-out ("excluding", "without", "leave ... out"), and which everyday names a catalogue category has
("testing" for `qa`). `vocabulary` gathers what a leave-out can name in one workspace: categories (id,
label, label parts, synonyms), people, tasks, and clients.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tools.domain import Client, Workspace

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9


@dataclass(frozen=True)
class Token:
    text: str
    """Lower case, possessive "'s" and ordinal suffixes dropped, "&" as "and", month names in full."""
    start: int
    end: int
    possessive: bool = False


_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}(?!\d)|\d{4}-\d{1,2}(?![\d-])|\d+(?:st|nd|rd|th)?(?![^\W\d_])"
    r"|[^\W\d_]\w*(?:[-'’.][^\W_]+)*(?:['’]s)?|\.\.|[^\w\s'’\"]"
)
_NUMBER_WORDS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                 "nine": "9", "ten": "10", "eleven": "11", "twelve": "12"}
PUNCTUATION = frozenset(",;:.!?()&/+-")
STOPS = frozenset(".;:!?()")
SEPARATORS = frozenset({",", "and", "or", "nor", "plus", "/", "+"})


def tokenize(text: str) -> list[Token]:
    """The tokens of a text: words, numbers, ISO dates and months, and punctuation, in normal form."""
    tokens = []
    for m in _TOKEN.finditer(text.replace("_", " ")):
        word, possessive = m[0].lower().replace("’", "'"), False
        if word.endswith("'s") and len(word) > 2:
            word, possessive = word[:-2], True
        if re.fullmatch(r"\d+(?:st|nd|rd|th)", word):
            word = re.sub(r"\D", "", word)
        word = {"&": "and", "+": "and"}.get(word, _NUMBER_WORDS.get(word, word))
        word = calendar.month_name[MONTHS[word]].lower() if word in MONTHS else word
        tokens.append(Token(word, m.start(), m.end(), possessive))
    return tokens


def split_words(text: str) -> list[str]:
    """The words of a text as the reader compares them (no punctuation but "and")."""
    return [t.text for t in tokenize(text) if t.text not in PUNCTUATION]


def number_forms(word: str) -> set[str]:
    """A word in the singular and the plural ("meeting", "meetings")."""
    forms = {word, word + "s"}
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.add(word[:-1])
    return forms


# Words of a request that place nothing: commands, politeness, grammar. Ignoring them loses nothing.
COMMAND_WORDS = frozenset(
    """invoice invoices invoicing invoiced draft drafts drafting bill bills billing for the a an all every each
    clients client customers customer account accounts please me make create prepare run do send and of to in
    from period month months last this previous current our their s retainer retainers hourly fixed fee
    fixed-fee milestone milestones time materials monthly""".split()
)
FILLER = COMMAND_WORDS | frozenset(
    """please pls plz thanks thank thx cheers kindly you can could would will shall i i'd we we'd let let's lets
    need want like go ahead now just only quickly quick asap hi hey hello ok okay so then also too as well both
    up get put together generate raise issue write produce new is are be it them those these its usual same
    one ones separately on at by with work hours entries but covering cover covers spanning""".split()
)
# Words at the edge of a leave-out that say nothing about what to leave out ("the", "any", "time").
ITEM_FILLER = frozenset(
    """the a an any all of for on in at by from to with about related spent logged time hours hour entries entry
    work stuff things anything everything that which his her their our its please thanks thank you too also as
    well invoice invoices bill billing do did does done doing""".split()
)
POLITE = frozenset("please thanks thank you too also as well".split())
TIME_WORDS = frozenset(
    """week weeks day days half month months quarter year first last second third fourth final fortnight
    today yesterday""".split()
) | frozenset(calendar.month_name[i].lower() for i in range(1, 13))
GENERIC_NAME_WORDS = frozenset(
    "ltd limited inc llc llp lp gmbh plc co company corp the and of sa bv b.v n.v nv ag group pty pte".split())
MODEL_NOUNS = frozenset("fee ones clients client customers accounts materials".split())
MODEL_WORDS = {"hourly": "hourly", "retainer": "retainer", "retainers": "retainer", "fixed": "fixed",
               "fixed-fee": "fixed", "milestone": "fixed", "milestones": "fixed"}

# Everyday names of common catalogue categories, used only when the firm's catalogue has that id.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "travel": ("travelling", "traveling", "travel time", "trip", "mileage", "journey"),
    "internal_meeting": ("internal", "internal time", "standup", "stand-up", "team meeting"),
    "internal": ("internal meeting", "internal time", "admin"),
    "internal_admin": ("internal", "internal time", "admin", "administration"),
    "client_meeting": ("client call", "client meeting", "meeting with the client", "call with the client"),
    "client_comms": ("client call", "client email"),
    "client_conference": ("client call", "client meeting"),
    "qa": ("testing", "test", "quality assurance"),
    "project_management": ("pm", "project admin"),
    "development": ("dev", "coding", "engineering"),
    "support": ("maintenance", "bug fix"),
    "content": ("copy", "copywriting"),
    "discovery": ("research",),
    "legal_research": ("research",),
}

# Words that start a leave-out ("excluding travel") or, after "everyone", an exception ("except Northwind").
# After "everyone", an item that names no client, category, person or task is asked about when it follows an
# exception word (it may be a client we do not know), and read as words to look for in notes otherwise.
EXCEPTION_MARKERS = ("except for", "except", "excepting", "excluding", "exclude", "not including", "but not",
                     "and not", "not", "apart from", "other than", "aside from", "besides", "save for", "bar")
LEAVE_OUT_MARKERS = (
    "without", "ex", "excl", "minus", "less", "no", "nothing for", "hold off on", "hold off", "hold back",
    "leave out", "leaving out", "leave off", "leaving off", "take out", "taking out", "skip", "skipping",
    "omit", "omitting", "ignore", "ignoring", "drop", "dropping", "remove", "removing",
    "don't include", "do not include", "dont include", "don't bill for", "do not bill for", "don't bill",
    "do not bill", "don't charge for", "do not charge for", "don't charge", "don't invoice", "do not invoice",
    "leave", "leaving", "keep", "keeping",  # only with a closing "out"/"off": "leave the offsite out"
)
MARKERS = sorted((tuple(m.split()) for m in EXCEPTION_MARKERS + LEAVE_OUT_MARKERS), key=len, reverse=True)
"""Longest first, so "do not include" wins over "not"."""
CLOSERS = frozenset({"out", "off"})
NEEDS_CLOSER = frozenset({("leave",), ("leaving",), ("keep",), ("keeping",)})


def name_variants(client: Client) -> list[list[str]]:
    """The ways a client is named, as words: its id, name and aliases, and each without a legal suffix."""
    variants = [split_words(client.id), split_words(client.name)] + [split_words(a) for a in client.aliases]
    # "Acme Industries" names "Acme Industries Ltd": legal suffixes are often left out.
    for v in list(variants):
        core = list(v)
        while core and core[-1] in GENERIC_NAME_WORDS:
            core.pop()
        while core and core[0] == "the":
            core.pop(0)
        if core and core != v:
            variants.append(core)
    return [v for v in variants if v]


# ----------------------------------------------------------------------------------------------------
# What a leave-out can name: the catalogue's categories, the people and tasks of the clients' entries


Kind = Literal["client", "category", "person", "task"]


@dataclass
class Vocabulary:
    """Phrases (as word tuples) that name categories, people, tasks and clients, each to the values it names."""

    category: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    person: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    task: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    client: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    in_scope: set[str] = field(default_factory=set)
    """People and tasks with entries of the clients asked for (preferred when a name could mean two)."""

    @staticmethod
    def add(table: dict[tuple[str, ...], set[str]], words: Sequence[str], value: str, numbers: bool) -> None:
        if not words:
            return
        for last in number_forms(words[-1]) if numbers else {words[-1]}:
            table.setdefault((*words[:-1], last), set()).add(value)

    def longest(self) -> int:
        return max((len(k) for t in (self.category, self.person, self.task, self.client) for k in t), default=0)

    def lookup(self, words: tuple[str, ...], clients: bool) -> tuple[Kind, set[str]] | None:
        """What a phrase names, first of: a client (only when `clients`), a category, a person, a task."""
        tables: list[tuple[Kind, dict[tuple[str, ...], set[str]]]] = [("client", self.client)] if clients else []
        tables += [("category", self.category), ("person", self.person), ("task", self.task)]
        for kind, table in tables:
            if words in table:
                values = table[words]
                preferred = values & self.in_scope if kind in {"person", "task"} else values
                return kind, preferred or values
        return None


def vocabulary(workspace: Workspace, scope: set[str] | None) -> Vocabulary:
    """Everything a leave-out can name; people and tasks of `scope`'s entries (None: every client) come first."""
    vocab = Vocabulary()
    for cat in workspace.settings.categories:
        vocab.add(vocab.category, split_words(cat.id), cat.id, numbers=True)
        vocab.add(vocab.category, split_words(cat.label), cat.id, numbers=True)
        parts = re.split(r"\s*(?:&|\band\b|,|/)\s*", cat.label)
        for part in parts if len(parts) > 1 else []:
            vocab.add(vocab.category, split_words(part), cat.id, numbers=False)  # "workshops", never "workshop"
        for synonym in SYNONYMS.get(cat.id, ()):
            vocab.add(vocab.category, split_words(synonym), cat.id, numbers=True)
    people = {p.person for p in workspace.people} | {e.person for e in workspace.entries}
    for entry in workspace.entries:
        if scope is None or entry.client in scope:
            vocab.in_scope |= {entry.person, entry.task}
    for person in people:
        words = split_words(person)
        vocab.add(vocab.person, words, person, numbers=False)
        if len(words) > 1:
            vocab.add(vocab.person, words[:1], person, numbers=False)
            vocab.add(vocab.person, words[-1:], person, numbers=False)
    for task in {e.task for e in workspace.entries if e.task.strip()}:
        words = split_words(task)
        if any(w not in ITEM_FILLER for w in words):
            vocab.add(vocab.task, words, task, numbers=True)
    for client in workspace.clients:
        for variant in name_variants(client):
            vocab.add(vocab.client, variant, client.id, numbers=False)
    return vocab
