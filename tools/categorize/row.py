"""One entry as the categorizer reads it: the inputs a decision depends on, and nothing else.

Plain Python (no numpy), a named tuple (hashed in C: it keys every cached decision): a draft whose every
row was decided before looks decisions up by `Row` without loading the model.
"""

from __future__ import annotations

from typing import NamedTuple

from tools.categorize.text import plain_words, without_generic

__all__ = ["Row", "task_key"]


def task_key(task: str) -> str:
    """A task column as history counts it: lower case, spaces folded."""
    return " ".join(task.lower().split())


class Row(NamedTuple):
    """One entry as the categorizer reads it (a catalogue text is a row with only `notes`, or `task`)."""

    notes: str
    task: str = ""
    title: str = ""
    person: str = ""
    role: str = ""

    @property
    def typed(self) -> str:
        # Words that fit any work ("Project work", "Matter work") must not pull a coarse task column
        # toward the category whose label happens to hold them ("Project management").
        return f"{self.notes} || {without_generic(self.task)}".lower()

    def context(self) -> list[str]:
        tokens = ["#"]  # one shared token, so a block fitted on catalogue rows alone is never empty
        if self.task.strip():
            tokens.append("task=" + task_key(self.task))
        if self.role:
            tokens.append("role=" + self.role.lower())
        if self.person:
            tokens.append("person=" + self.person.lower())
        tokens += ["title:" + word for word in plain_words(self.title)]
        return tokens
