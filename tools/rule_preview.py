"""What new client terms would change: last period's invoice drafted with the current and the new terms.

Both drafts come from the billing engine (`tools.drafts.draft_invoice`) on the same entries, categories and
as-of date; only the client's terms differ (an in-memory copy of the workspace). The preview lists the
lines added, removed and changed, and the totals before and after. Nothing here computes an amount but the
differences shown between the engine's own figures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from tools.billing import Line
from tools.domain import Client, Workspace
from tools.drafts import Draft, DraftContext, draft_invoice
from tools.money import format_money, format_quantity
from tools.periods import Period

__all__ = ["LineChange", "Preview", "last_period", "preview_terms", "render_preview"]

TOTALS = ("subtotal", "discount", "cap_adjustment", "tax", "total")


class LineChange(BaseModel):
    change: Literal["added", "removed", "changed"]
    before: Line | None = None
    after: Line | None = None

    @property
    def description(self) -> str:
        line = self.after or self.before
        return line.description if line else ""


class Preview(BaseModel):
    """Last period's invoice with the client's current terms (`before`) and the new ones (`after`)."""

    period: Period
    as_of: date
    before: Draft
    after: Draft
    lines: list[LineChange]
    unchanged: int
    """Lines that are the same in both drafts."""

    def totals(self) -> list[tuple[str, Decimal, Decimal]]:
        return [(name, getattr(self.before, name), getattr(self.after, name)) for name in TOTALS]

    @property
    def changed(self) -> bool:
        return bool(self.lines) or any(b != a for _, b, a in self.totals())


def last_period(workspace: Workspace, client_id: str, today: date) -> Period | None:
    """The client's last month with billable entries dated before `today`: a whole month if there is one."""
    months = {(e.date.year, e.date.month) for e in workspace.entries
              if e.client == client_id and e.billable and e.date < today}
    if not months:
        return None
    whole = [m for m in months if Period.month(*m).end < today]
    return Period.month(*max(whole or months))


def preview_terms(workspace: Workspace, after: Client, period: Period, as_of: date,
                  context: DraftContext | None = None) -> Preview:
    """Draft `period` for `after.id` with the workspace's terms and with `after`, and compare the two."""
    ctx = context if context is not None else DraftContext(workspace, as_of)
    changed = workspace.model_copy(update={"clients": [after if c.id == after.id else c for c in workspace.clients]})
    before = draft_invoice(workspace, after.id, period, context=ctx)
    new = draft_invoice(changed, after.id, period, context=ctx)
    lines, unchanged = compare_lines(before.lines, new.lines)
    return Preview(period=period, as_of=ctx.as_of, before=before, after=new, lines=lines, unchanged=unchanged)


def _key(line: Line) -> tuple[str, str]:
    return line.description, line.category


def compare_lines(before: list[Line], after: list[Line]) -> tuple[list[LineChange], int]:
    """Lines added, removed and changed (same description and category, other figures), and how many are equal.

    A description with several lines (one per rate) pairs a line with the one at the same unit price, else
    with the first left, once equal lines are set aside."""
    left, right = list(before), list(after)
    unchanged = 0
    for line in list(left):
        if line in right:
            left.remove(line)
            right.remove(line)
            unchanged += 1
    changes: list[LineChange] = []
    for line in left:
        same = [other for other in right if _key(other) == _key(line)]
        match = next((other for other in same if other.unit_price == line.unit_price), same[0] if same else None)
        if match is None:
            changes.append(LineChange(change="removed", before=line))
        else:
            right.remove(match)
            changes.append(LineChange(change="changed", before=line, after=match))
    changes += [LineChange(change="added", after=line) for line in right]
    return changes, unchanged


def _line(line: Line) -> str:
    code = f" [{line.code}]" if line.code else ""
    return f"{format_quantity(line.quantity)} x {format_quantity(line.unit_price)} = {format_money(line.amount)}{code}"


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + format_money(value)


def render_preview(preview: Preview) -> str:
    """The preview for a person: each changed line, then every total before -> after."""
    draft = preview.after
    out = [f"Last period's invoice with these terms: {draft.client_name} ({draft.client}), {preview.period} "
           f"(drafted as of {preview.as_of}), {draft.currency}"]
    if not preview.lines:
        out.append("  no line changes")
    width = min(40, max([len(c.description) for c in preview.lines] + [10]))
    for c in preview.lines:
        desc = c.description if len(c.description) <= width else c.description[: width - 1] + "…"
        if c.change == "changed" and c.before and c.after:
            out.append(f"  ~ {desc:<{width}}  {_line(c.before)}  ->  {_line(c.after)}")
        elif c.before:
            out.append(f"  - {desc:<{width}}  {_line(c.before)}  (removed)")
        elif c.after:
            out.append(f"  + {desc:<{width}}  {_line(c.after)}  (added)")
    if preview.unchanged:
        out.append(f"  {preview.unchanged} line(s) unchanged")
    excluded = len(draft.excluded) - len(preview.before.excluded)
    if excluded:
        out.append(f"  entries excluded: {len(preview.before.excluded)} -> {len(draft.excluded)}")
    for name, before, after in preview.totals():
        label = name.replace("_", " ").capitalize()
        moved = f"  ({_signed(after - before)})" if after != before else ""
        out.append(f"  {label:<15} {format_money(before):>12} -> {format_money(after):>12}{moved}")
    return "\n".join(out)
