"""What a Claude call cost, estimated from its token counts: telemetry for per-run accounting, never billing.

Prices are USD per million tokens, per model family, as published on platform.claude.com (the pricing page
and each model's overview page), read on 2026-11-22 from stored copies of those pages. Prices change:
check https://platform.claude.com/docs/en/about-claude/pricing before trusting a total, and update
`PRICES` here, the only place they live.

Only what this project uses is priced: standard (not batch) requests, 5-minute cache writes (the default
`cache_control: {"type": "ephemeral"}`), no fast mode, no US-only inference (`inference_geo`), no server
tools. A model id that matches no row costs 0: `price_for` returns None so a caller can say "cost unknown"
rather than "free".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from agent.model import Usage

_PER_TOKEN = Decimal(1_000_000)


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind that `Usage` counts."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    """5-minute cache writes: 1.25 x input on every current model."""
    cache_read: Decimal
    long_prompt: tuple[int, Price] | None = None
    """(threshold, price): a request whose prompt (input + cache reads + cache writes) is longer than
    threshold tokens pays this price on every token of the request, output included (Haiku 5.5)."""

    def cost(self, usage: Usage) -> Decimal:
        prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        if self.long_prompt is not None and prompt > self.long_prompt[0]:
            return self.long_prompt[1].cost(usage)
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / _PER_TOKEN


def _price(input: str, output: str, cache_write: str, cache_read: str) -> Price:
    return Price(Decimal(input), Decimal(output), Decimal(cache_write), Decimal(cache_read))


_OPUS_4_5_TO_5 = _price("5", "25", "6.25", "0.50")
_OPUS_4_0_TO_4_1 = _price("15", "75", "18.75", "1.50")
_SONNET_4 = _price("3", "15", "3.75", "0.30")
_SONNET_5 = _price("2", "10", "2.50", "0.20")

PRICES: dict[str, Price] = {
    # Model-id prefixes; the longest prefix that matches wins, so dated ids and "[1m]" suffixes match too.
    "claude-fable-5-1": _price("10", "50", "12.50", "0.25"),
    "claude-mythos-5-1": _price("10", "50", "12.50", "0.25"),
    "claude-fable-5": _price("10", "50", "12.50", "1"),
    "claude-mythos-5": _price("10", "50", "12.50", "1"),
    "claude-opus-5-5": _price("4", "20", "5", "0.20"),
    "claude-opus-5": _OPUS_4_5_TO_5,
    "claude-opus-4-8": _OPUS_4_5_TO_5,
    "claude-opus-4-7": _OPUS_4_5_TO_5,
    "claude-opus-4-6": _OPUS_4_5_TO_5,
    "claude-opus-4-5": _OPUS_4_5_TO_5,
    "claude-opus-4": _OPUS_4_0_TO_4_1,
    # Third-party price trackers report a Sonnet 5.5 cache-read cut to 0.10 from 2026-10-07; the stored
    # official model page still says 0.20, and that is what is used here.
    "claude-sonnet-5-5": _SONNET_5,
    "claude-sonnet-5": _SONNET_5,
    "claude-sonnet-4": _SONNET_4,
    # The official page says "from $0.10 / $0.50"; the long-prompt tier (over 100,000 prompt tokens) is
    # as reported by third-party price trackers, not read from an official page.
    "claude-haiku-5-5": Price(
        Decimal("0.10"), Decimal("0.50"), Decimal("0.125"), Decimal("0.01"),
        long_prompt=(100_000, _price("0.50", "2.50", "0.625", "0.05")),
    ),
    "claude-haiku-4-5": _price("1", "5", "1.25", "0.10"),
}


def price_for(model: str) -> Price | None:
    """The price row for a model id (longest matching prefix), or None when the model is not in `PRICES`."""
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def cost_usd(model: str, usage: Usage) -> Decimal:
    """Estimated USD cost of one call; Decimal("0") for a model not in `PRICES` (see `price_for`)."""
    price = price_for(model)
    return price.cost(usage) if price is not None else Decimal(0)
