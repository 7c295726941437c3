"""Vague notes: time-entry notes that say nothing about the work ("misc", "as discussed", "the usual").

What belongs here: deciding whether a note is vague. Two parts:

- A rule from general English: a note is vague when it has words but no *content word*. Every word is a
  function word ("the", "of", "them"), a generic word for work ("stuff", "work", "sorted", "admin"), a
  time word ("today", "earlier", "Monday"), a reference to something said elsewhere ("per", "discussed",
  "same", "ditto", "usual") or a party with no activity ("client", "team"). Anything else (a noun of
  the trade, a ticket id, a number, a name, an unknown word) is content, so terse but real notes
  ("gc call", "spa cl 4", "figma", "QA pass") are not vague.
- What a firm's history teaches (`VagueNotes.learn`): the reviewers' `vague_description` labels and the
  labelled notes with no anomaly. Words and word pairs seen in vague notes and never in a non-vague one
  extend the vague vocabulary (a firm's own "bits and bobs"); a word of the general lists that the
  firm's non-vague notes use on its own more often than its vague ones becomes a content word there; a
  note text the reviewers labelled counts as they labelled it (by majority).

Words seen in a non-vague labelled note are never learned as vague, so history can only add vague
words it has no evidence against. Judging is cheap and deterministic; each distinct text is judged once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from tools.domain import Workspace

__all__ = ["VAGUE_LABEL", "VagueNotes", "is_vague", "words"]

VAGUE_LABEL = "vague_description"

_WORD = re.compile(r"[^\W_]+")  # letters and digits in any script; "w/", "cont'd", "e-filing" split

# Function words: articles, pronouns, prepositions, conjunctions, auxiliaries, quantifiers, fillers.
_FUNCTION = frozenset("""
a about above across after again against all also am an and any anything are around as at away back be
because been before being below between both but by can could did do does doing done down during each
either else etc even ever every everything few for from further had has have having he her here hers him
his how i if in into is it its itself just least less lot lots many may me might mine more most much
must my myself neither no nor not nothing now of off on once one only onto or other others otherwise our
ours out over own per plus quite rather re really same several she should so some something such than
that the their theirs them then there these they this those though through thru till to too under until
up upon us very via was we were what whatever when where whether which while who whom whose why will
with within without would yet you your yours w wrt vs bit bunch couple loads little whole
""".split())

# Generic words for work and its progress: they say that something was done, not what.
_GENERIC_WORK = frozenset("""
activity activities admin administration administrative assorted bits bobs business busy carried carry
carrying catch catching catchup completed complete completing cont contd continuation continue continued
continues continuing deal dealing dealt effort efforts ends entry entries extra finish finished finishing
followup followups follow following general generic get getting got go going gone handle handled handling
hour hours hrs housekeeping item items job jobs keep keeping kept left loose make made making matter
matters misc miscellaneous need needed needs odd odds ongoing outstanding pending pick picked picking
piece pieces proceed proceeded proceeding progress progressed progressing project projects random
remaining rest session sessions sort sorted sorting start started starting stuff sundry task tasks tbc
tbd tba thing things tidy tidied tidying tie tied ties tying todo update updated updates various wip
time work worked working works wrap wrapped wrapping additional na nb
""".split())

# Time words: when, not what.
_TIME = frozenset("""
today tonight yesterday tomorrow morning afternoon evening night am pm eod eow daily weekly monthly day
days week weeks weekend fortnight month months year earlier later lately recently previously prior
previous prev last next since still already meanwhile soon again
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
january february march april june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
""".split())

# References to something said or done elsewhere.
_REFERENCE = frozenset("""
above below per as same ditto usual usually normal regular routine discussed discussion agreed
requested request asked instructed instruction instructions mentioned noted planned scheduled arranged
expected see ref cf aforementioned said similar likewise ibid thread before
""".split())

# Parties named without an activity ("stuff for the client").
_PARTY = frozenset("""
client clients customer customers team teams internal everyone everybody people folks someone somebody
""".split())

_RULE_VAGUE = _FUNCTION | _GENERIC_WORK | _TIME | _REFERENCE | _PARTY
# Words history may turn into content words for a firm (never the function words).
_OVERRIDABLE = _RULE_VAGUE - _FUNCTION


def words(notes: str) -> list[str]:
    """The note's words, lower-cased; punctuation and symbols dropped."""
    return _WORD.findall(notes.casefold())


def _forms(word: str) -> tuple[str, ...]:
    """The word and its likely singular ("sundries" -> "sundry", "bits" -> "bit")."""
    if len(word) > 4 and word.endswith("ies"):
        return word, word[:-3] + "y"
    if len(word) > 3 and word.endswith("es"):
        return word, word[:-1], word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word, word[:-1]
    return (word,)


class VagueNotes:
    """Decides whether a note is vague: the general rule, extended by what a firm's history teaches."""

    def __init__(
        self,
        vague_words: Iterable[str] = (),
        vague_pairs: Iterable[tuple[str, str]] = (),
        content_words: Iterable[str] = (),
        labelled: dict[str, bool] | None = None,
    ) -> None:
        self.vague_words = frozenset(vague_words)
        self.vague_pairs = frozenset(vague_pairs)
        self.content_words = frozenset(content_words)
        self.labelled = dict(labelled or {})
        self._seen: dict[str, bool] = {}  # notes repeat endlessly: each distinct text is judged once

    @classmethod
    def learn(cls, workspace: Workspace) -> VagueNotes:
        """Learn from the workspace's entry labels (only those: a replay passes the past's labels alone).

        Vague examples are entries labelled `vague_description`; non-vague ones are labelled billable
        entries with no anomaly and non-empty notes (a non-billable entry carries no anomaly, whatever its
        notes say). Other labelled entries teach nothing about their notes.
        """
        notes = {e.id: e.notes for e in workspace.entries}
        billable = {e.id for e in workspace.entries if e.billable}
        vague: list[list[str]] = []
        clear: list[list[str]] = []
        votes: dict[str, Counter[bool]] = {}
        for label in workspace.labels:
            text = notes.get(label.entry_id)
            if text is None or not text.strip():
                continue
            if label.anomaly == VAGUE_LABEL:
                is_vague_example = True
            elif not label.anomaly and label.entry_id in billable:
                is_vague_example = False
            else:
                continue
            tokens = words(text)
            (vague if is_vague_example else clear).append(tokens)
            votes.setdefault(" ".join(tokens), Counter())[is_vague_example] += 1

        # Every form of every word a non-vague note uses is evidence that the word carries content.
        in_clear = {form for tokens in clear for w in tokens for form in _forms(w)}
        pairs_in_clear = {pair for tokens in clear for pair in pairwise(tokens)}
        vague_words = {
            w for tokens in vague for w in tokens
            if not w.isdigit() and len(w) > 1 and in_clear.isdisjoint(_forms(w)) and not _rule_vague(w)
        }
        vague_pairs = {
            pair for tokens in vague for pair in pairwise(tokens) if pair not in pairs_in_clear
        }

        # A general-list word that the firm's non-vague notes use with no other content word, more often
        # than its vague notes use it, is a content word for this firm (one firm's "admin" is a category).
        base = cls(vague_words, vague_pairs)
        alone_in_clear: Counter[str] = Counter()
        in_vague: Counter[str] = Counter()
        for tokens in clear:
            if base._no_content(tokens):
                alone_in_clear.update({w for w in tokens if w in _OVERRIDABLE})
        for tokens in vague:
            in_vague.update({w for w in tokens if w in _OVERRIDABLE})
        content_words = {w for w, n in alone_in_clear.items() if n > in_vague[w]}

        labelled = {text: c[True] > c[False] for text, c in votes.items() if c[True] != c[False]}
        return cls(vague_words, vague_pairs, content_words, labelled)

    def is_vague(self, notes: str) -> bool:
        """True when the notes are present but say nothing about the work."""
        known = self._seen.get(notes)
        if known is None:
            known = self._seen[notes] = self._judge(notes)
        return known

    def _judge(self, notes: str) -> bool:
        if not notes.strip():
            return False  # empty notes are missing, not vague
        tokens = words(notes)
        labelled = self.labelled.get(" ".join(tokens))
        if labelled is not None:
            return labelled
        return self._no_content(tokens)

    def _no_content(self, tokens: list[str]) -> bool:
        covered = [False] * len(tokens)
        for i, pair in enumerate(pairwise(tokens)):
            if pair in self.vague_pairs:
                covered[i] = covered[i + 1] = True
        return all(covered[i] or not self._is_content(w) for i, w in enumerate(tokens))

    def _is_content(self, word: str) -> bool:
        if word in self.content_words:
            return True
        if len(word) == 1 and word.isalpha():
            return False  # "w/", "n/a", "cont'd"
        return not _rule_vague(word) and self.vague_words.isdisjoint(_forms(word))


def _rule_vague(word: str) -> bool:
    return not _RULE_VAGUE.isdisjoint(_forms(word))


_RULE = VagueNotes()


def is_vague(notes: str) -> bool:
    """The general rule alone, with no firm's history (see the module docstring)."""
    return _RULE.is_vague(notes)
