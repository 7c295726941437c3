"""What a drift workspace is made of: a firm's catalogue with its phrasing, its people and its clients' terms.

A spec is plain data; `make_drift` turns one into a workspace. Each category carries three disjoint sets of
note templates: `history` (every month), `novel` (only the last month, for about a third of the entries:
other verbs, slang, jargon, tools' brand names) and `terse` (how the newcomer, who joins in the last month,
types). Templates may hold `{placeholders}` filled from the client's `words` (and `{colleague}`, `{n}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class CategorySpec:
    id: str
    label: str
    examples: tuple[str, ...]
    history: tuple[str, ...]
    novel: tuple[str, ...]
    terse: tuple[str, ...]
    hours: tuple[float, float]
    """Typical length of one entry, before a day is scaled to its total."""
    task_names: tuple[str, ...]
    """What the tracker's task column says when it is specific to the work."""
    task_titles: tuple[str, ...] = ()
    """Titles of tasks in tasks.csv that entries of this category may reference."""


@dataclass(frozen=True)
class PersonSpec:
    name: str
    role: str
    mix: str
    """The name of the category mix this person works to (a key of `FirmSpec.mixes`)."""
    clients: dict[str, float]
    style: str
    """How hours are typed: "quarter" (0.25 h), "tenth" (0.1 h) or "timer" (to 0.01 h)."""
    sloppy: float = 0.05
    lowercase: float = 0.1
    newcomer: bool = False
    """Joins in the last month and writes tersely."""


@dataclass(frozen=True)
class ClientSpec:
    id: str
    name: str
    aliases: tuple[str, ...]
    currency: str
    tax_rate: str
    terms: int
    email: str
    prefix: str
    model: str
    rates: dict[str, object]
    """default, by_role, by_category, by_person (as in clients.yaml)."""
    rounding: tuple[int, str]
    group_by: str
    rules: tuple[tuple[str, dict[str, str]], ...]
    words: dict[str, tuple[str, ...]]
    """Values for the templates' placeholders (page, feature, doc, topic, contact, ...)."""
    retainer: tuple[str, str, str] | None = None
    milestones: tuple[tuple[str, str, str], ...] = ()
    """Fixed fee: (title, amount, completion date) of each milestone task."""
    side_projects: tuple[tuple[str, float], ...] = ()
    """Other project codes some entries are logged against (e.g. presales), with their share."""
    coarse: float = 0.45
    """Share of entries whose task column is coarse ("Project work") rather than specific."""


@dataclass(frozen=True)
class FirmSpec:
    key: str
    firm: str
    base_currency: str
    invoice_number_format: str
    first_seq: int
    months: tuple[tuple[int, int], ...]
    categories: tuple[CategorySpec, ...]
    internal: str
    """The category of non-client work, excluded by the clients' rules."""
    mixes: dict[str, dict[str, float]]
    people: tuple[PersonSpec, ...]
    clients: tuple[ClientSpec, ...]
    coarse_tasks: tuple[str, ...]
    vague_history: tuple[str, ...]
    vague_novel: tuple[str, ...]
    non_billable: tuple[str, ...]
    bank_holidays: frozenset[date] = field(default_factory=frozenset)
    entries_per_day: tuple[int, int] = (2, 4)
    id_prefix: str = "E"

    def category(self, category_id: str) -> CategorySpec:
        return next(c for c in self.categories if c.id == category_id)
