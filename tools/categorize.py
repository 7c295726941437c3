"""The offline categorizer: one catalogue category per time entry, learned, deterministic, no network.

What belongs here: turning an entry (notes as people type them, the tracker's task column, the task it
references, who logged it, the project code) into one category id of the firm's catalogue, with a
confidence and a one-line reason a reviewer can check. Nothing here bills, flags or calls a model.

How it decides. A multinomial naive Bayes per *channel*, summed in log space:

- notes: normalized words (abbreviations and jargon folded onto plain words, light stemming, a typo read
  as the known word one edit away, "rvw"-style vowel-less abbreviations as the word they shorten), word
  bigrams, and a token class for ticket ids ("STU-142");
- task column: its words and the whole string;
- task title: the words of the task in tasks.csv that `task_ref` (or a task id in the notes) names;
- task id, person, role and project code, each as one feature.

The catalogue (each category's id, label and examples) seeds the text channels, so a fresh firm with no
history still resolves "hi-fi mocks" or a task column "Design"; the firm's own labelled history
(entry_labels.csv, only entries dated before the period being billed) adds counts on top and soon
outweighs the seeds. Confidence is a softmax of the summed scores; below `UNCERTAIN_BELOW` the entry is
marked uncertain for a person to check. The reason names the evidence that decided: the catalogue example
or past note the notes resemble, and the context fields that pointed the same way.

Speed: scores add up across channels, so the notes' part is computed once per distinct notes text and the
rest once per distinct (task column, task, person, project), itself from a sum shared by every task of one
(task column, person, project); an entry then costs a few look-ups and one product of odds.

Notes are data: they are only ever split into words and counted, never read as instructions.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from tools.domain import Categorization, Task, TimeEntry, Workspace

__all__ = ["UNCERTAIN_BELOW", "Categorization", "Categorizer", "Decision"]

UNCERTAIN_BELOW = 0.5
"""An entry whose best category is less likely than this is flagged `uncertain_category`."""


# ----------------------------------------------------------------------------------------------------
# Text normalization: the way people type, folded onto the words the catalogue and history use.

# Words people split or hyphenate ("kick-off", "mock up", "T&Cs", "one-on-one"), joined back into the one
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


@dataclass(frozen=True)
class _Terms:
    """A text split into words: `words` as typed (normalized), `tickets` the ticket prefixes found."""

    words: tuple[tuple[str, ...], ...]  # one tuple per typed word: the plain words it stands for
    tickets: tuple[str, ...]


def _terms(text: str) -> _Terms:
    tokens, tickets = _split(text)
    return _Terms(tuple(mapped for token in tokens if (mapped := _word(token))), tuple(tickets))


@functools.lru_cache(maxsize=65536)
def _word(token: str) -> tuple[str, ...]:
    """The plain words one typed token stands for; () for a token that says nothing."""
    # Version marks ("v3") and numbers say nothing about the kind of work.
    if len(token) < 2 or token in _STOPWORDS or _NUMBERISH.fullmatch(token):
        return ()
    stem = _stem(token)
    return _SYNONYMS.get(token) or _SYNONYMS.get(stem) or (stem,)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


# ----------------------------------------------------------------------------------------------------
# The model: one naive-Bayes table per channel.

_Features = list[tuple[str, float]]
_Vector = tuple[float, ...]

# How much each kind of evidence counts (tuned on held-out months of synthetic firm data). The notes carry
# the meaning; the task column is nearly as telling when it names a category; the task, the person and
# the project decide when the words say little ("misc", an empty note).
_W_WORD = 1.0
_W_BIGRAM = 0.3
_W_TICKET = 1.0
_W_TASK = 1.0
_W_TITLE = 0.8
_W_REF = 0.8
_W_PERSON = 0.8
_W_ROLE = 0.3
_W_PROJECT = 0.4
_W_PRIOR = 1.0
# Catalogue texts are few and hand-written: each counts like a few history rows, so the firm's own
# labels take over once there are more of them than that.
_SEED_LABEL = 4.0
_SEED_EXAMPLE = 2.0
_SEED_TASK_EXAMPLE = 0.5
_ALPHA = 0.5
# Naive Bayes double-counts correlated words; dividing by a temperature keeps the confidence honest.
_INVERSE_TEMPERATURE = 1 / 1.3
_QUOTE = 60  # longest notes or example quoted in a reason
_POSTINGS_KEPT = 6
_HELPED = 0.05  # a channel scoring a category less above its average than this did not help it
_TRUSTED = 2.0  # weighted uses before a word is a target for correcting typos


class _Channel:
    """Weighted feature counts per category, turned into centered log-likelihoods by `finish`.

    A feature keeps the weight of its kind (a bigram counts less than a word) both when counted and
    when scored; `finish` folds that weight into the table, so scoring is a plain sum of rows.
    """

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.counts: dict[str, list[float]] = {}
        self.weights: dict[str, float] = {}
        self.table: dict[str, _Vector] = {}

    def add(self, features: _Features, cls: int, weight: float) -> None:
        for name, w in features:
            row = self.counts.get(name)
            if row is None:
                row = self.counts[name] = [0.0] * self.n_classes
                self.weights[name] = w
            row[cls] += w * weight

    def finish(self) -> None:
        if not self.counts:
            return
        totals = [0.0] * self.n_classes
        for row in self.counts.values():
            for i, v in enumerate(row):
                totals[i] += v
        smoothing = _ALPHA * len(self.counts)
        logs = [math.log(t + smoothing) for t in totals]
        log_alpha = [0.0] * self.n_classes
        for name, row in self.counts.items():
            for i, v in enumerate(row):
                log_alpha[i] = math.log(v + _ALPHA) - logs[i]
            mean = sum(log_alpha) / self.n_classes
            w = self.weights[name]
            # Centering changes no posterior (softmax ignores a shared shift) but makes each number
            # read as "points toward / away from this category", which the reason relies on.
            self.table[name] = tuple((x - mean) * w for x in log_alpha)

    def score(self, features: _Features) -> _Vector:
        """The summed rows of the features this channel knows (each at the weight it was counted at)."""
        table = self.table
        rows = [table[name] for name, _ in features if name in table]
        if not rows:
            return (0.0,) * self.n_classes
        return tuple(map(sum, zip(*rows, strict=True)))


@dataclass(frozen=True)
class _Example:
    """A text a reason can quote: a catalogue example or label, or a past entry's notes."""

    text: str
    words: frozenset[str]
    from_catalogue: bool
    # Long texts share words by chance; dividing by the root of their length evens that out.
    norm: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", 1.0 / math.sqrt(len(self.words) or 1))


class _NoteScore(NamedTuple):
    """What one notes text says: its scores, a task id it mentions, its words, and how to quote it."""

    notes: str
    vec: _Vector
    odds: _Vector  # exp(vec / temperature), scaled so the largest is 1: the softmax needs only products
    task: str  # lowercased id of a task in tasks.csv named in the notes, or ""
    words: frozenset[str]
    plain: str  # the notes with runs of spaces folded, as a reason quotes them


class Decision(NamedTuple):
    """A `Categorization`'s fields, without the model: cheap to build, hold and read by the thousand."""

    category: str
    confidence: float
    reason: str
    uncertain: bool


class _ContextScore(NamedTuple):
    """What everything but the notes says: the prior plus each context channel, kept apart for reasons."""

    vec: _Vector
    odds: _Vector
    parts: tuple[tuple[_Vector, str], ...]  # (channel scores, how a reason names that channel)


_ContextKey = tuple[str, str, str, str]  # task column, task id, person, project code


class Categorizer:
    """Chooses one catalogue category per entry. Build it with `Categorizer.train(workspace, before=...)`.

    `categories` are the catalogue ids in catalogue order; `history_size` is how many labelled past
    entries it learned from. Results are cached by (notes, task, task_ref, person, project_code), so an
    instance answers repeated entries at once; it never changes after training.
    """

    def __init__(
        self,
        categories: Sequence[str],
        channels: dict[str, _Channel],
        prior: _Vector,
        tasks: dict[str, Task],
        roles: dict[str, str],
        examples: list[list[_Example]],
        history_size: int,
    ) -> None:
        self.categories = tuple(categories)
        self.history_size = history_size
        self._channels = channels
        self._prior = prior
        self._tasks = tasks
        self._roles = roles
        self._examples = examples
        self._known_words = _known_words(channels)
        # Per category: the examples by their exact text, so a note seen before is quoted as itself.
        self._seen = [{example.text.lower(): example for example in reversed(texts)} for texts in examples]
        # Per category: word -> the first few examples holding it. Catalogue examples come first, and a
        # reason needs one good quote, not the best of thousands.
        self._index: list[dict[str, list[int]]] = []
        for texts in examples:
            index: dict[str, list[int]] = {}
            for j, example in enumerate(texts):
                for word in example.words:
                    postings = index.setdefault(word, [])
                    if len(postings) < _POSTINGS_KEPT:
                        postings.append(j)
            self._index.append(index)
        # Entries repeat their notes, tasks and people endlessly: each part is scored once.
        self._cache: dict[tuple[str, str, str, str, str], Decision] = {}
        self._notes: dict[str, _NoteScore] = {}
        self._tokens: dict[str, tuple[tuple[str, ...], _Vector | None]] = {}
        self._contexts: dict[_ContextKey, _ContextScore] = {}
        self._bases: dict[tuple[str, str, str], tuple[_Vector, tuple[tuple[_Vector, str], ...]]] = {}
        self._fields: dict[tuple[str, str], tuple[_Vector, str]] = {}
        self._note_reasons: dict[tuple[str, int], tuple[bool, str]] = {}
        self._context_reasons: dict[tuple[_ContextKey, int], tuple[str, str]] = {}

    # ------------------------------------------------------------------------------------------------
    # Training

    @classmethod
    def train(cls, workspace: Workspace, *, before: date | None = None) -> Categorizer:
        """Learn from the catalogue and from labels of entries dated strictly before `before` (all if None).

        Labels of entries on or after `before` are never read: they belong to the period being billed.
        Labels naming a category the catalogue does not have, or an entry the workspace does not hold,
        are skipped.
        """
        categories = [c.id for c in workspace.settings.categories]
        position = {cid: i for i, cid in enumerate(categories)}
        n = len(categories)
        channels = {name: _Channel(n) for name in ("notes", "task", "title", "ref", "person", "role", "project")}
        tasks = {t.id.lower(): t for t in workspace.tasks}
        roles = {p.person: p.role for p in workspace.people}
        examples: list[list[_Example]] = [[] for _ in categories]

        for i, category in enumerate(workspace.settings.categories):
            id_text = category.id.replace("_", " ").replace("-", " ")
            for text in (category.label, id_text):
                channels["notes"].add(_note_features(_terms(text)), i, _SEED_LABEL)
                channels["task"].add(_task_features(text), i, _SEED_LABEL)
                channels["title"].add(_word_features(_terms(text)), i, _SEED_LABEL)
            for text in category.examples:
                terms = _terms(text)
                channels["notes"].add(_note_features(terms), i, _SEED_EXAMPLE)
                channels["task"].add(_word_features(terms), i, _SEED_TASK_EXAMPLE)
                channels["title"].add(_word_features(terms), i, _SEED_EXAMPLE)
                examples[i].append(_Example(text, _word_set(terms), True))
            examples[i].append(_Example(category.label, _word_set(_terms(category.label)), True))

        entries = {e.id: e for e in workspace.entries}
        counts = [0] * n
        quoted: list[set[str]] = [set() for _ in categories]
        note_terms: dict[str, _Terms] = {}
        task_features: dict[str, _Features] = {}
        title_features: dict[str, _Features] = {}
        for label in workspace.labels:
            entry = entries.get(label.entry_id)
            k = position.get(label.category)
            if entry is None or k is None or (before is not None and entry.date >= before):
                continue
            counts[k] += 1
            words = note_terms.get(entry.notes)
            if words is None:
                words = note_terms[entry.notes] = _terms(entry.notes)
            channels["notes"].add(_note_features(words), k, 1.0)
            feats = task_features.get(entry.task)
            if feats is None:
                feats = task_features[entry.task] = _task_features(entry.task)
            channels["task"].add(feats, k, 1.0)
            task = tasks.get((entry.task_ref or "").lower()) or (
                _mentioned_task(entry.notes, tasks) if words.tickets and not entry.task_ref else None
            )
            if task is not None:
                feats = title_features.get(task.id)
                if feats is None:
                    feats = title_features[task.id] = _word_features(_terms(task.title))
                channels["title"].add(feats, k, 1.0)
                channels["ref"].add([(task.id.lower(), 1.0)], k, 1.0)
            channels["person"].add([(entry.person, 1.0)], k, 1.0)
            channels["role"].add([(roles.get(entry.person, ""), 1.0)], k, 1.0)
            channels["project"].add([(entry.project_code, 1.0)], k, 1.0)
            text = " ".join(entry.notes.split())
            if text and text.lower() not in quoted[k]:
                quoted[k].add(text.lower())
                examples[k].append(_Example(text, _word_set(words), False))

        for channel in channels.values():
            channel.finish()
        total = sum(counts)
        # Add-one smoothing: with no history every category starts level.
        prior = [_W_PRIOR * math.log((c + 1) / (total + n)) for c in counts]
        mean = sum(prior) / n
        return cls(categories, channels, tuple(p - mean for p in prior), tasks, roles, examples, total)

    # ------------------------------------------------------------------------------------------------
    # Categorizing

    def categorize(self, entry: TimeEntry) -> Categorization:
        """The most likely category for one entry, its probability, and a reason naming the evidence."""
        return Categorization(**self.decide(entry)._asdict())

    def categorize_many(self, entries: Iterable[TimeEntry]) -> dict[str, Categorization]:
        """Categorize every entry; the result maps entry id to its categorization."""
        return {entry.id: self.categorize(entry) for entry in entries}

    def decide(self, entry: TimeEntry) -> Decision:
        """`categorize`, as a plain named tuple: for callers that read thousands of results and keep none."""
        key = (entry.notes, entry.task, entry.task_ref or "", entry.person, entry.project_code)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._decide(*key)
        return found

    def decide_many(self, entries: Iterable[TimeEntry]) -> dict[str, Decision]:
        """`categorize_many`, as plain named tuples."""
        return {entry.id: self.decide(entry) for entry in entries}

    def _decide(self, notes: str, task_column: str, task_ref: str, person: str, project: str) -> Decision:
        note = self._notes.get(notes) or self._note(notes)
        context_key = (task_column, task_ref.lower() or note.task, person, project)
        context = self._contexts.get(context_key)
        if context is None:
            context = self._contexts[context_key] = self._context(*context_key)
        # softmax(note + context) = normalized product of the two halves' odds, each computed once.
        odds = list(map(operator.mul, note.odds, context.odds))
        top = max(odds)
        best = odds.index(top)  # the first of equal odds: ties go to the earlier catalogue category
        confidence = top / sum(odds)
        return Decision(
            self.categories[best],
            round(confidence, 4),
            self._reason(note, context, context_key, best),
            confidence < UNCERTAIN_BELOW,
        )

    def _note(self, notes: str) -> _NoteScore:
        """Score one notes text. Its words are read through a per-word cache, since the same few hundred
        words make up nearly every note; only the bigrams and ticket tokens are looked up per note."""
        tokens, tickets = _split(notes)
        table = self._channels["notes"].table
        rows: list[_Vector] = []
        heads: list[str] = []
        words: list[str] = []
        for token in tokens:
            read = self._tokens.get(token) or self._token(token)
            if read[0]:
                heads.append(read[0][0])
                words += read[0]
                if read[1] is not None:
                    rows.append(read[1])
        extra = [f"{a} {b}" for a, b in itertools.pairwise(heads)]
        for prefix in tickets:
            extra += ("#ticket", f"#ticket:{prefix}")
        rows += [table[name] for name in extra if name in table]
        vec = tuple(map(sum, zip(*rows, strict=True))) if rows else (0.0,) * len(self.categories)
        task = _mentioned_task(notes, self._tasks) if tickets else None
        cached = self._notes[notes] = _NoteScore(
            notes=notes,
            vec=vec,
            odds=_odds(vec),
            task=task.id.lower() if task is not None else "",
            words=frozenset(words),
            plain=" ".join(notes.split()),
        )
        return cached

    def _token(self, token: str) -> tuple[tuple[str, ...], _Vector | None]:
        """The plain words one typed token stands for (a typo read as the word it misspells), and the
        summed notes-channel rows of those words."""
        words = _word(token)
        table = self._channels["notes"].table
        typed = len(words) == 1 and token not in _SYNONYMS and words[0] not in _SYNONYMS
        # A word seen once before may be a typo too, but a short one is more likely a real word that
        # happens to sit one letter from another ("cart", "card").
        shortest = 5 if typed and words[0] in table else 3
        if typed and len(words[0]) >= shortest and words[0] not in self._known_words and words[0] not in _GENERIC:
            fixed = _correct(words[0], self._known_words)
            if fixed is not None:
                words = _SYNONYMS.get(fixed) or (fixed,)
        rows = [table[word] for word in words if word in table and word not in _GENERIC]
        row = tuple(map(sum, zip(*rows, strict=True))) if rows else None
        self._tokens[token] = (words, row)
        return words, row

    def _context(self, task_column: str, task_id: str, person: str, project: str) -> _ContextScore:
        # Contexts that differ only by task share the rest of the sum (added in the same order, so the
        # floats come out the same), computed once.
        base = self._bases.get((task_column, person, project))
        if base is None:
            base = self._bases[(task_column, person, project)] = _added(self._prior, [
                self._field("task", task_column), self._field("person", person),
                self._field("role", self._roles.get(person, "")), self._field("project", project)])
        vec, parts = base
        if task_id in self._tasks:
            vec, more = _added(vec, [self._field("title", task_id), self._field("ref", task_id)])
            parts += more
        return _ContextScore(vec, _odds(vec), parts)

    def _field(self, channel: str, value: str) -> tuple[_Vector, str]:
        """One context field's weighted scores and how a reason names it; these values recur endlessly."""
        cached = self._fields.get((channel, value))
        if cached is not None:
            return cached
        task = self._tasks.get(value) if channel in ("title", "ref") else None
        if channel == "task":
            features = _task_features(value)
            weight, text = _W_TASK, f'task column "{value}"'
        elif channel == "title":
            features = _word_features(self._corrected(_terms(task.title if task is not None else "")))
            weight, text = _W_TITLE, f'task {task.id if task else value} "{task.title if task else ""}"'
        else:
            features = [(value, 1.0)]
            weight, text = {
                "ref": (_W_REF, f"past entries on {task.id if task else value}"),
                "person": (_W_PERSON, f"{value}'s past entries"),
                "role": (_W_ROLE, f"role {value}"),
                "project": (_W_PROJECT, f"project {value}"),
            }[channel]
        cached = self._fields[(channel, value)] = (_scaled(self._channels[channel].score(features), weight), text)
        return cached

    def _corrected(self, terms: _Terms) -> _Terms:
        """The same words, with each typo read as the word it misspells ("wirefrmes", "rvw")."""
        words = []
        for group in terms.words:
            if len(group) == 1:
                read = self._tokens.get(group[0]) or self._token(group[0])
                group = read[0] or group
            words.append(group)
        return _Terms(tuple(words), terms.tickets)

    # ------------------------------------------------------------------------------------------------
    # Explaining

    def _reason(self, note: _NoteScore, context: _ContextScore, key: _ContextKey, best: int) -> str:
        # Both halves are phrased once per (notes, category) and (context, category); an entry only
        # joins them. The category is named after the first piece of evidence for it.
        note_part = self._note_reasons.get((note.notes, best))
        if note_part is None:
            note_part = self._note_reasons[(note.notes, best)] = self._explain_note(note, best)
        context_part = self._context_reasons.get((key, best))
        if context_part is None:
            context_part = self._context_reasons[(key, best)] = self._explain_context(context, best)
        supports_note, note_text = note_part
        after_notes, leading = context_part
        if not supports_note:
            return f"{leading}; {note_text}"
        named = f"{note_text} ({self.categories[best]})"
        return f"{named}; {after_notes}" if after_notes else named

    def _explain_context(self, context: _ContextScore, best: int) -> tuple[str, str]:
        """What the context said for `best`: (after the notes' evidence, leading the reason)."""
        # Every channel that scored `best` above its average helped; those that also put it ahead of
        # every rival explain the choice best, so they come first.
        helped = [(_lead(vec, best), vec[best], text) for vec, text in context.parts if vec[best] > _HELPED]
        texts = [text for _, _, text in sorted(helped, key=lambda item: (-item[0], -item[1]))][:3]
        if not texts:
            texts = ["most common in the firm's history" if self._prior[best] > 0 else "no clear evidence"]
            return "", "; ".join([texts[0] + f" ({self.categories[best]})"])
        return "; ".join(texts), "; ".join([texts[0] + f" ({self.categories[best]})", *texts[1:]])

    def _explain_note(self, note: _NoteScore, best: int) -> tuple[bool, str]:
        """(whether the notes point to `best`, how to say what the notes did)."""
        if not note.plain:
            return False, "notes empty"
        quoted = f'notes "{_quote(note.plain)}"'
        vec = note.vec
        if _lead(vec, best) > 0:
            example = self._seen[best].get(note.plain.lower()) or self._nearest(best, note.words)
            if example is None:
                return True, quoted
            if example.text.lower() == note.plain.lower():
                return True, quoted + (" as in the catalogue" if example.from_catalogue else " as labelled before")
            return True, quoted + f' resemble "{_quote(example.text)}"'
        if not any(vec):
            return False, quoted + " say nothing known"
        return False, quoted + f" lean to {self.categories[vec.index(max(vec))]}"

    def _nearest(self, cls: int, words: frozenset[str]) -> _Example | None:
        """A catalogue example or past note of category `cls` holding the notes' word that points most
        to `cls`, and among those the one sharing most other words: a quote for the reason, not a vote."""
        index, table = self._index[cls], self._channels["notes"].table
        telling, strength = "", -math.inf
        for word in words:
            row = table.get(word)
            # Ties go to the alphabetically first word: a frozenset's order changes from run to run.
            if row is not None and word in index and (row[cls], telling) > (strength, word):
                telling, strength = word, row[cls]
        if not telling:
            return None
        examples = self._examples[cls]
        best, overlap = None, -1.0
        for j in index[telling]:  # in list order, so among equal matches the catalogue is quoted first
            example = examples[j]
            shared = len(example.words & words) * example.norm
            if shared > overlap:
                best, overlap = example, shared
        return best


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"


def _odds(vec: _Vector) -> _Vector:
    top = max(vec)
    return tuple([math.exp((v - top) * _INVERSE_TEMPERATURE) for v in vec])


def _added(vec: _Vector, parts: list[tuple[_Vector, str]]) -> tuple[_Vector, tuple[tuple[_Vector, str], ...]]:
    """`vec` plus each part that says anything, in order; and those parts."""
    kept = tuple(part for part in parts if any(part[0]))
    for part, _ in kept:
        vec = tuple(map(operator.add, vec, part))
    return vec, kept


def _scaled(vec: _Vector, weight: float) -> _Vector:
    return tuple(v * weight for v in vec)


def _lead(vec: _Vector, best: int) -> float:
    """How far a channel put `best` ahead of its strongest rival (negative: it preferred another)."""
    rivals = vec[:best] + vec[best + 1 :]
    return vec[best] - max(rivals) if rivals else vec[best]


# ----------------------------------------------------------------------------------------------------
# Features


def _word_set(terms: _Terms) -> frozenset[str]:
    return frozenset(word for group in terms.words for word in group)


def _word_features(terms: _Terms) -> _Features:
    return [(word, 1.0) for group in terms.words for word in group if word not in _GENERIC]


def _note_features(terms: _Terms) -> _Features:
    features: _Features = [(word, _W_WORD) for group in terms.words for word in group if word not in _GENERIC]
    heads = [group[0] for group in terms.words]
    features += [(f"{a} {b}", _W_BIGRAM) for a, b in itertools.pairwise(heads)]
    for prefix in terms.tickets:
        features.append(("#ticket", _W_TICKET))
        features.append((f"#ticket:{prefix}", _W_TICKET))
    return features


def _task_features(text: str) -> _Features:
    """A task column: its words and, as one more feature, the whole normalized string."""
    terms = _terms(text)
    whole = " ".join(group[0] for group in terms.words)
    if not whole:
        return []
    features = _word_features(terms)
    features.append((f"={whole}", 1.0))
    return features


def _known_words(channels: dict[str, _Channel]) -> dict[str, str]:
    """The words the text channels trust, plus lookup keys for near misses of them.

    A word is trusted once it carries the weight of two uses: a catalogue word at once, a word from
    history when it recurs. A word typed once is more likely a typo than a target for correcting others
    (a history note that once said "dpeloy" must not keep "dpeloy" from being read as "deploy").

    "~" + the word less one letter -> the word (typos); "^" + its consonant skeleton -> the word
    (abbreviations that drop vowels: "rvw", "dsgn", "bld"). Where two words share a key, the one used
    more often wins.
    """
    mass: dict[str, float] = {}
    for channel in ("notes", "task", "title"):
        for name, row in channels[channel].counts.items():
            if not name.startswith(("#", "=")) and " " not in name:
                mass[name] = mass.get(name, 0.0) + sum(row)
    words = sorted((w for w, m in mass.items() if m >= _TRUSTED), key=lambda w: (-mass[w], w))
    known: dict[str, str] = {word: word for word in words}
    for word in words:
        if len(word) >= 4:
            for variant in sorted(_deletions(word)):
                known.setdefault("~" + variant, word)
            known.setdefault("^" + _skeleton(word), word)
    return known


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


def _mentioned_task(notes: str, tasks: dict[str, Task]) -> Task | None:
    for match in re.finditer(r"[A-Za-z][A-Za-z0-9]*-\d+", notes):
        task = tasks.get(match.group(0).lower())
        if task is not None:
            return task
    return None
