"""Exact money: one way to make a number, an immutable amount, rounding only at named points.

Every number that is money or hours is a `Decimal` made from a string or an int (never a float). The
billing semantics round in exactly two ways, both named here: `to_cents` (0.01, half up) for amounts,
and the per-entry increment rounding in `tools.billing`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from tools.errors import CurrencyMismatchError

CENT = Decimal("0.01")
ZERO = Decimal("0")


def D(value: str | int | Decimal) -> Decimal:
    """Make a Decimal from a string, an int or a Decimal; refuse floats and junk."""
    if isinstance(value, bool | float):
        raise TypeError(f"money and hours must be given as strings, not {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def to_cents(value: Decimal) -> Decimal:
    """Quantize to 0.01, half up: the one rounding the billing semantics apply to amounts."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """Render an amount as a decimal string with exactly two places ("0.00")."""
    return str(to_cents(value) + ZERO)


def format_quantity(value: Decimal) -> str:
    """Render hours with at least two places, keeping any further exact digits ("1.75", "1.125")."""
    value = value + ZERO
    if value == value.quantize(CENT):
        return str(value.quantize(CENT))
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -6:
        return f"{normal:f}"
    return str(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


class Money(BaseModel):
    """An amount in one currency. Arithmetic between two currencies is an error, never a conversion."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must be given as a string, not a float")
        return value

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=ZERO, currency=currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def times(self, factor: Decimal) -> Money:
        """Multiply by a plain number (hours, a rate, a percentage); the result is not rounded."""
        if not isinstance(factor, Decimal | int) or isinstance(factor, bool):
            raise TypeError(f"Money can only be multiplied by a Decimal, not {type(factor).__name__}")
        return Money(amount=self.amount * factor, currency=self.currency)

    def cents(self) -> Money:
        """This amount quantized to 0.01, half up."""
        return Money(amount=to_cents(self.amount), currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __str__(self) -> str:
        return f"{format_money(self.amount)} {self.currency}"


def total(amounts: list[Money], currency: str) -> Money:
    """Sum amounts of one currency (an empty list gives zero in that currency)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
