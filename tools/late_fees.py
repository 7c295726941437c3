"""Late fees: per client, optional, added once to an overdue invoice when a chosen reminder stage is reached.

A client opts in with a `late_fee` mapping in clients.yaml (an optional field the workspace contract
allows; clients without it are never charged):

    - id: brightwave
      ...
      late_fee: {percent: "2", stage: after-14}      # 2 % of the balance then due
      # late_fee: {fixed: "40.00", stage: after-7}   # or a fixed amount in the client's currency

The fee is added when the first reminder at that stage or later is sent (a tick that catches up past
the stage still charges it, once), shown on that reminder, and raises the invoice's balance.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.domain import Issue
from tools.files import read_workspace_text
from tools.money import ZERO, to_cents
from tools.reminders import stage_offset

__all__ = ["LateFeePolicy", "load_late_fees"]


class LateFeePolicy(BaseModel):
    """A fixed amount, or a percentage of the balance, added once at `stage` (e.g. "after-7")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixed: Decimal | None = Field(default=None, gt=ZERO)
    percent: Decimal | None = Field(default=None, gt=ZERO, le=Decimal(100))
    stage: str = "after-7"

    @field_validator("fixed", "percent", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("write amounts and percentages as strings (\"2.5\"), not floats")
        return value

    @field_validator("stage", mode="before")
    @classmethod
    def _stage(cls, value: Any) -> Any:
        stage_offset(str(value))
        return str(value)

    @model_validator(mode="after")
    def _one_kind(self) -> LateFeePolicy:
        if (self.fixed is None) == (self.percent is None):
            raise ValueError("a late fee is either `fixed` or `percent`, not both or neither")
        if stage_offset(self.stage) <= 0:
            raise ValueError(f"a late fee is charged after the due date; stage {self.stage!r} is not after it")
        return self

    @property
    def offset(self) -> int:
        return stage_offset(self.stage)

    def applies_at(self, stage: str) -> bool:
        """True when a reminder at `stage` is at or past the fee's stage."""
        try:
            return stage_offset(stage) >= self.offset
        except ValueError:
            return False

    def amount(self, balance: Decimal) -> Decimal:
        """The fee on this balance, in the balance's currency, to the cent (half up)."""
        if self.fixed is not None:
            return to_cents(self.fixed)
        return to_cents(balance * (self.percent or ZERO) / 100)

    def describe(self) -> str:
        what = f"{self.fixed}" if self.fixed is not None else f"{self.percent}% of the balance"
        return f"{what} at {self.stage}"


def load_late_fees(root: str | Path) -> tuple[dict[str, LateFeePolicy], list[Issue]]:
    """Each client's late fee policy from clients.yaml (`late_fee`), and any malformed one as an Issue."""
    path = Path(root) / "clients.yaml"
    if not path.exists():
        return {}, []
    data = yaml.safe_load(read_workspace_text(path)) or {}
    policies: dict[str, LateFeePolicy] = {}
    issues: list[Issue] = []
    for client in data.get("clients", []) if isinstance(data, dict) else []:
        if not isinstance(client, dict) or "late_fee" not in client:
            continue
        raw = client["late_fee"]
        if isinstance(raw, dict):
            raw = {k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in raw.items()}
        try:
            policies[str(client.get("id"))] = LateFeePolicy.model_validate(raw)
        except ValidationError as exc:
            issues.append(Issue(file="clients.yaml", field=f"{client.get('id')}.late_fee",
                                message="; ".join(str(e["msg"]) for e in exc.errors())))
    return policies, issues
