"""Billing periods: a month ("2026-03") or an explicit range ("2026-03-01..2026-03-15"), both ends included."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from tools.errors import InvalidPeriodError


class Period(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last = calendar.monthrange(year, month)[1]
        return cls(start=date(year, month, 1), end=date(year, month, last))

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse "YYYY-MM" or "YYYY-MM-DD..YYYY-MM-DD"."""
        text = text.strip()
        try:
            if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
                return cls.month(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", text):
                return cls(start=date.fromisoformat(m[1]), end=date.fromisoformat(m[2]))
        except ValueError:
            pass
        raise InvalidPeriodError(text)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def issue_date(self) -> date:
        """The default issue date: the day after the period ends."""
        return self.end + timedelta(days=1)

    def __str__(self) -> str:
        if self.start.day == 1 and self == Period.month(self.start.year, self.start.month):
            return f"{self.start:%Y-%m}"
        return f"{self.start}..{self.end}"
