"""Notes as people type them, folded onto plain words: the categorizer's and the reasons' reading of text.

What belongs here: splitting a note into words, joining split phrases ("kick off", "hi fi"), folding
abbreviations and jargon onto the plain words they stand for ("mtg" -> meeting, "redlines" -> review,
edit), light stemming, and reading a typo or a vowel-less abbreviation ("wirefrmes", "bld") as the known
word it misspells. This is general knowledge of how professionals write time notes, written once; what a
firm's own words mean is learned from its history by the model.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

__all__ = ["KnownWords", "clean_for_meaning", "mentioned_task_ids", "plain_words", "split", "without_generic"]

# token the synonyms below know. Text is split on anything but letters and digits first.
_PHRASES: dict[tuple[str, ...], str] = {
    **{(a, b): a + b for a, b in (
        ("kick", "off"), ("kick", "offs"), ("mock", "up"), ("mock", "ups"), ("wire", "frame"), ("wire", "frames"),
        ("hi", "fi"), ("lo", "fi"), ("stand", "up"), ("stand", "ups"), ("catch", "up"), ("catch", "ups"),
        ("check", "in"), ("check", "ins"), ("follow", "up"), ("follow", "ups"), ("pull", "request"),
        ("pull", "requests"), ("code", "review"), ("code", "reviews"), ("bug", "fix"), ("bug", "fixes"),
        ("hot", "fix"), ("hot", "fixes"), ("e", "mail"), ("e", "mails"), ("set", "up"), ("style", "guide"),
        ("style", "guides"), ("due", "diligence"), ("front", "end"), ("back", "end"), ("t", "c"), ("t", "cs"),
    )},
    ("high", "fidelity"): "hifi", ("low", "fidelity"): "lofi",
    ("one", "on", "one"): "oneonone", ("1", "on", "1"): "oneonone", ("terms", "and", "conditions"): "tc",
}
_PHRASE_STARTS = frozenset(phrase[0] for phrase in _PHRASES)
_ONE_ON_ONE = re.compile(r"\b1\s*:\s*1s?\b")


# One typed word -> the plain words it stands for. The first word is the one bigrams use; keeping the
# original token too (e.g. "msa") lets history learn what a firm's own abbreviation means.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    # meetings and conversations
    "mtg": ("meeting",), "mtgs": ("meeting",), "mtng": ("meeting",), "meet": ("meeting",),
    "sync": ("sync", "meeting"), "syncs": ("sync", "meeting"), "oneonone": ("oneonone", "meeting"),
    "standup": ("standup", "meeting"), "checkin": ("checkin", "meeting"), "oneonones": ("oneonone", "meeting"),
    "1on1": ("oneonone", "meeting"), "1on1s": ("oneonone", "meeting"), "followup": ("followup",),
    "huddle": ("huddle", "meeting"), "retro": ("retro", "meeting"), "retrospective": ("retro", "meeting"),
    "call": ("call",), "calls": ("call",), "convo": ("conversation",), "wkshp": ("workshop",),
    "wkshop": ("workshop",), "ws": ("workshop",), "kickoff": ("kickoff", "workshop"),
    "cmo": ("stakeholder",), "ceo": ("stakeholder",), "cto": ("stakeholder",), "cfo": ("stakeholder",),
    "coo": ("stakeholder",), "vp": ("stakeholder",), "stakeholders": ("stakeholder",),
    "their": ("client",), "them": ("client",), "clients": ("client",), "cust": ("client",),
    "interviews": ("interview",), "intvw": ("interview",), "req": ("requirement",), "reqs": ("requirement",),
    "requirements": ("requirement",), "brd": ("requirement",), "discov": ("discovery",),
    # design
    "wires": ("wireframe",), "wf": ("wireframe",), "wfs": ("wireframe",), "wireframes": ("wireframe",),
    "wireframing": ("wireframe",), "mocks": ("mockup",), "mock": ("mockup",), "mockups": ("mockup",),
    "comps": ("mockup",), "hifi": ("hifi", "mockup"), "lofi": ("lofi", "wireframe"),
    "proto": ("prototype",), "protos": ("prototype",), "prototyping": ("prototype",),
    "figma": ("figma", "design"), "sketch": ("sketch", "design"), "ui": ("ui", "design"),
    "ux": ("ux", "design"), "styleguide": ("styleguide", "design"), "styleguides": ("styleguide", "design"),
    "icons": ("icon",),
    "illo": ("illustration",), "illos": ("illustration",), "redesign": ("redesign", "design"),
    # development
    "dev": ("development",), "devs": ("development",), "develop": ("development",),
    "developing": ("development",), "impl": ("implement",), "implementation": ("implement",),
    "implementing": ("implement",), "coding": ("code",), "fe": ("frontend",), "front": ("frontend",),
    "backend": ("backend",), "db": ("database",), "infra": ("infrastructure",), "env": ("environment",),
    "envs": ("environment",), "deployment": ("deploy",), "deploys": ("deploy",), "release": ("deploy",),
    "releases": ("deploy",), "rollout": ("deploy",), "prod": ("production",), "stg": ("staging",),
    "pr": ("pullrequest", "codereview"), "prs": ("pullrequest", "codereview"),
    "pullrequest": ("pullrequest", "codereview"), "cr": ("codereview",),
    "qa": ("qa", "test"), "uat": ("test",), "tests": ("test",), "testing": ("test",),
    "bug": ("bug", "fix"), "bugs": ("bug", "fix"), "fixes": ("fix",), "fixing": ("fix",),
    "fixed": ("fix",), "refactoring": ("refactor",), "nav": ("navigation",), "js": ("javascript",),
    "ts": ("typescript",), "k8s": ("kubernetes",), "bugfix": ("fix", "bug"), "bugfixes": ("fix", "bug"),
    "hotfix": ("fix", "bug"), "hotfixes": ("fix", "bug"), "codereview": ("codereview",), "ci": ("pipeline",),
    "api": ("api", "integration"), "apis": ("api", "integration"), "integrations": ("integration",),
    "cms": ("cms", "setup"),
    # legal and contracts
    "redline": ("review", "edit", "redline"), "redlines": ("review", "edit", "redline"),
    "redlining": ("review", "edit", "redline"), "redlined": ("review", "edit", "redline"),
    "markup": ("review", "edit"), "markups": ("review", "edit"),
    "msa": ("contract", "msa"), "nda": ("contract", "nda"), "ndas": ("contract", "nda"),
    "sow": ("contract", "sow"), "sows": ("contract", "sow"), "dpa": ("contract", "dpa"),
    "sla": ("contract", "sla"), "tos": ("contract", "terms"), "tc": ("terms", "contract"),
    "tcs": ("terms", "contract"), "agmt": ("agreement", "contract"),
    "agrmt": ("agreement", "contract"), "agreement": ("agreement", "contract"),
    "agreements": ("agreement", "contract"), "contracts": ("contract",), "clause": ("clause", "contract"),
    "clauses": ("clause", "contract"), "duediligence": ("duediligence", "review"),
    # management, admin and writing
    "pm": ("pm", "management"), "mgmt": ("management",), "admin": ("admin",),
    "est": ("estimate",), "estimates": ("estimate",), "estimating": ("estimate",),
    "sched": ("schedule",), "scheduling": ("schedule",), "reporting": ("report",),
    "invoicing": ("invoice",), "corresp": ("correspondence",), "docs": ("documentation",),
    "doc": ("documentation",), "copywriting": ("copy", "writing"), "cw": ("copy", "writing"),
    "research": ("research",), "analytics": ("analytics",), "seo": ("seo",),
}

_STOPWORDS = frozenset(
    {
        "a", "an", "the", "to", "for", "of", "on", "in", "at", "and", "or", "with", "without", "by", "from",
        "re", "per", "via", "vs", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that",
        "these", "those", "my", "our", "we", "us", "i", "me", "you", "your", "he", "she", "his", "her", "they",
        "as", "about", "into", "up", "out", "over", "some", "more", "etc", "ok",
    }
)

# Words that fit any kind of work ("Project work", "general"): alone they must not pull toward the
# category whose label happens to contain them ("Project management"); in a bigram or a whole task
# column they still count.
_GENERIC = frozenset(
    {"project", "work", "general", "misc", "task", "stuff", "various", "ongoing", "wip", "other", "catchup"}
)

_TRUSTED = 2.0  # weighted uses before a word is a target for correcting typos
_TICKET = re.compile(r"\b([a-z][a-z0-9]{0,9})-(\d+)\b")
_TOKEN = re.compile(r"[a-z0-9]+")
_NUMBERISH = re.compile(r"v?\d+[a-z]?|\d+[a-z]+\d*")



def _stem(word: str) -> str:
    """Fold plurals and -ing/-ed endings, conservatively: a wrong fold costs more than a missed one."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            stem = word[: -len(suffix)]
            # "planning" -> "plann" -> "plan"
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    return word


def _split(text: str) -> tuple[list[str], list[str]]:
    """(the tokens of a text as typed, lower case, phrases joined; the prefixes of ticket ids in it)."""
    if not text.isascii():  # "Möbel" -> "mobel", "café" -> "cafe"
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    tickets: list[str] = []
    if "-" in text:
        tickets = [match.group(1) for match in _TICKET.finditer(text)]
        if tickets:
            text = _TICKET.sub(" ", text)
    if ":" in text:
        text = _ONE_ON_ONE.sub(" oneonone ", text)
    tokens = _TOKEN.findall(text)
    if len(tokens) > 1 and not _PHRASE_STARTS.isdisjoint(tokens):
        tokens = _join_phrases(tokens)
    return tokens, tickets


def _join_phrases(tokens: list[str]) -> list[str]:
    joined: list[str] = []
    i = 0
    while i < len(tokens):
        for size in (3, 2):
            phrase = _PHRASES.get(tuple(tokens[i : i + size]))
            if phrase is not None:
                joined.append(phrase)
                i += size
                break
        else:
            joined.append(tokens[i])
            i += 1
    return joined


@functools.lru_cache(maxsize=65536)
def _word(token: str) -> tuple[str, ...]:
    """The plain words one typed token stands for; () for a token that says nothing."""
    # Version marks ("v3") and numbers say nothing about the kind of work.
    if len(token) < 2 or token in _STOPWORDS or _NUMBERISH.fullmatch(token):
        return ()
    stem = _stem(token)
    return _SYNONYMS.get(token) or _SYNONYMS.get(stem) or (stem,)


def split(text: str) -> tuple[list[str], list[str]]:
    """(the tokens of a text as typed, lower case, phrases joined; the prefixes of ticket ids in it)."""
    return _split(text)


class KnownWords:
    """The words a firm's catalogue and history use, and how to read a near miss of one as that word.

    A word is trusted once it is used twice (a catalogue word counts double at once): a word typed once
    is more likely a typo than a target for correcting others. "~" + the word less one letter -> the word
    (typos); "^" + its consonant skeleton -> the word (abbreviations that drop vowels: "rvw", "dsgn",
    "bld"). Where two words share a key, the one used more often wins.
    """

    def __init__(self, uses: Mapping[str, float]) -> None:
        words = sorted((w for w, m in uses.items() if m >= _TRUSTED), key=lambda w: (-uses[w], w))
        self.words = frozenset(words)
        self._keys: dict[str, str] = {word: word for word in words}
        for word in words:
            if len(word) >= 4:
                for variant in sorted(_deletions(word)):
                    self._keys.setdefault("~" + variant, word)
                self._keys.setdefault("^" + _skeleton(word), word)
        self._read: dict[str, tuple[str, ...]] = {}

    @classmethod
    def counted(cls, texts: Iterable[tuple[str, float]]) -> KnownWords:
        """Trust the plain words of these (text, weight) pairs."""
        uses: dict[str, float] = {}
        for text, weight in texts:
            for token in _split(text)[0]:
                for word in _word(token):
                    uses[word] = uses.get(word, 0.0) + weight
        return cls(uses)

    def read(self, token: str) -> tuple[str, ...]:
        """The plain words a typed token stands for, a typo read as the known word it misspells."""
        found = self._read.get(token)
        if found is not None:
            return found
        words = _word(token)
        typed = len(words) == 1 and token not in _SYNONYMS and words[0] not in _SYNONYMS
        # A short word is more likely a real word one letter from another ("cart", "card") than a typo.
        if typed and len(words[0]) >= 3 and words[0] not in self.words and words[0] not in _GENERIC:
            fixed = _correct(words[0], self._keys)
            if fixed is not None:
                words = _SYNONYMS.get(fixed) or (fixed,)
        self._read[token] = words
        return words


def plain_words(text: str, known: KnownWords | None = None) -> list[str]:
    """The plain words of a text, in order: jargon folded, stemmed, typos read through `known`."""
    tokens, _ = _split(text)
    out: list[str] = []
    for token in tokens:
        out += known.read(token) if known is not None else _word(token)
    return out


_MARKERS = re.compile(r"\((?:no charge|n/?c|internal|non[- ]?billable)[^)]*\)|\[[^\]]*\]|-\s*write[- ]?off\b.*$", re.I)
_TICKET_ID = re.compile(r"\b[A-Za-z]{1,5}-\d{1,5}\b")


def without_generic(text: str) -> str:
    """The text less words that fit any kind of work ("Project work" -> "")."""
    return " ".join(w for w in text.split() if w.lower() not in _GENERIC)


def clean_for_meaning(notes: str) -> str:
    """Notes without ticket ids and bracketed asides or non-billable markers: what the words mean."""
    return _TICKET_ID.sub(" ", _MARKERS.sub(" ", notes))


def mentioned_task_ids(notes: str) -> list[str]:
    """Task-id-shaped tokens in the notes ("ACM-9"), lower case, in order."""
    return [m.group(0).lower() for m in re.finditer(r"[A-Za-z][A-Za-z0-9]*-\d+", notes)]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _skeleton(word: str) -> str:
    """The first letter, then the consonants, doubled letters once: "review" -> "rvw"."""
    out = word[0]
    for ch in word[1:]:
        if ch not in "aeiou" and ch != out[-1]:
            out += ch
    return out


def _correct(word: str, known: dict[str, str]) -> str | None:
    """A known word one edit (insert, delete, substitute, swap) from `word`, or spelled without vowels."""
    if not any(ch in "aeiou" for ch in word):
        for stem in (word, word[:-2] if word.endswith("ng") else "", word[:-1] if word.endswith(("s", "d")) else ""):
            hit = known.get("^" + stem) if len(stem) >= 3 else None
            if hit is not None and len(hit) > len(stem):
                return hit
    if len(word) < 4:
        return None
    hit = known.get("~" + word)  # a letter missing from the typed word
    if hit is not None:
        return hit
    for variant in sorted(_deletions(word)):
        if len(variant) >= 4 and variant in known:
            return known[variant]  # a letter too many
        hit = known.get("~" + variant)  # a letter wrong, or two swapped
        if hit is not None:
            return hit
    return None
