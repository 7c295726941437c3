"""Column types that keep money exact and times in UTC on every database.

`Amount` is `NUMERIC(14, 2)`: it takes only `Decimal` (never a float) and refuses an amount that would
need rounding to fit, because amounts are rounded only where the billing semantics say (tools.money).
`Hours` is `NUMERIC(12, 6)`: billed hours can be a repeating fraction (7 minutes = 0.11666... h), so
they are kept to the microhour; no amount is ever computed from the stored hours.
`UTCDateTime` stores UTC and always reads back an aware datetime (SQLite drops the zone otherwise).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

__all__ = ["Amount", "Hours", "JSONDocument", "UTCDateTime"]

CENT = Decimal("0.01")
MICROHOUR = Decimal("0.000001")

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} must be a Decimal, not {type(value).__name__}: {value!r}")
    return Decimal(value)


class Amount(TypeDecorator[Decimal]):
    """Money: NUMERIC(14, 2); Decimal in, Decimal out, exact to the cent or refused."""

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        amount = _decimal(value, "an amount")
        if amount != amount.quantize(CENT):
            raise ValueError(f"amount {amount} has more than two decimal places; round it with tools.money first")
        return amount.quantize(CENT)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(CENT)


class Hours(TypeDecorator[Decimal]):
    """Hours: NUMERIC(12, 6); Decimal in (quantized to the microhour), Decimal out."""

    impl = Numeric(12, 6, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return _decimal(value, "hours").quantize(MICROHOUR, rounding=ROUND_HALF_UP)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(MICROHOUR)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, not {value!r}")
        converted: datetime = value.astimezone(UTC)
        return converted.replace(tzinfo=None) if dialect.name == "sqlite" else converted

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
