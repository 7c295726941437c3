"""What a doubtful category puts at stake: the same entry billed under each alternative, in money.

What belongs here: for one entry whose category may be wrong, the amount it bills under the category the
draft used and under each alternative the categorizer names, through the client's own rules (`exclude`,
rates by category, the retainer's included hours), and the message a reviewer reads:
"if client_call: +45.00 at 150.00/h; if internal_meeting: excluded, -300.00". Amounts are before
discount, cap and tax, per entry (a line's quantize may move them by a cent). Plain code, exact Decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from tools.billing import SIXTY, Billable, billed_minutes, is_excluded, rate_for
from tools.domain import Client
from tools.money import ZERO, format_money, to_cents

__all__ = ["Outcome", "Stakes", "stakes"]


class Outcome(NamedTuple):
    """One category's effect on the entry: billed (at a rate) or excluded, and its amount."""

    category: str
    excluded: bool
    rate: Decimal
    amount: Decimal  # what the entry adds to the pre-tax subtotal


class Stakes(NamedTuple):
    used: Outcome
    alternatives: tuple[Outcome, ...]

    @property
    def at_stake(self) -> Decimal:
        """The largest change any alternative would make (0 when none changes the money)."""
        return max((abs(alt.amount - self.used.amount) for alt in self.alternatives), default=ZERO)

    def describe(self, currency: str) -> str:
        parts = []
        for alt in self.alternatives:
            change = alt.amount - self.used.amount
            signed = ("+" if change > 0 else "") + format_money(change) if change else "no change"
            if alt.excluded:
                parts.append(f"if {alt.category}: excluded, {signed}")
            elif self.used.excluded or alt.rate != self.used.rate:
                parts.append(f"if {alt.category}: {signed} at {format_money(alt.rate)}/h")
            else:
                parts.append(f"if {alt.category}: {signed}")
        return "; ".join(parts) + (f" ({currency}, before discount and tax)" if parts else "")


def stakes(client: Client, item: Billable, alternatives: Sequence[str], roles: dict[str, str],
           counted_minutes: Decimal = ZERO) -> Stakes:
    """The entry under its category and under each alternative.

    `counted_minutes` is, for a retainer, the rounded minutes of every counted entry of the draft
    (this one included when it is counted): what its included hours are measured against.
    """
    minutes = billed_minutes(item.entry.hours, client.rounding.increment_minutes, client.rounding.mode)
    retainer = client.billing.retainer if client.billing.model == "retainer" else None
    used_excluded = is_excluded(client, item)
    others = counted_minutes - (ZERO if used_excluded else minutes)

    def outcome(category: str) -> Outcome:
        excluded = is_excluded(client, Billable(item.entry, category))
        rate = rate_for(client, item.entry.person, roles.get(item.entry.person), category)
        if retainer is not None:  # what matters is the "Additional hours" line
            counted = others + (ZERO if excluded else minutes)
            amount = to_cents(max(ZERO, counted / SIXTY - retainer.included_hours) * retainer.overage_rate)
            return Outcome(category, excluded, retainer.overage_rate, amount)
        return Outcome(category, excluded, rate, ZERO if excluded else to_cents(minutes * rate / SIXTY))

    return Stakes(outcome(item.category), tuple(outcome(category) for category in alternatives))
