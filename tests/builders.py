"""Small builders so a test shows only the fields its rule is about."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from tools.domain import Client, FirmSettings, Person, Task, TimeEntry, Workspace

CATEGORIES = [
    {"id": "discovery", "label": "Discovery & workshops", "examples": ["client discovery call", "kickoff workshop"]},
    {"id": "design", "label": "Design", "examples": ["homepage wireframes", "hi-fi mocks"]},
    {"id": "development", "label": "Development", "examples": ["build product page", "api integration"]},
    {"id": "internal_meeting", "label": "Internal meetings", "examples": ["team standup", "internal sync"]},
]

PEOPLE = [
    {"person": "Ann Lee", "role": "senior"},
    {"person": "Bob Roe", "role": "junior"},
    {"person": "Cat Poe", "role": "senior"},
]

_rows = count(2)


def client(**overrides: Any) -> dict[str, Any]:
    """An hourly GBP client at 100.00/h, 15-minute increments rounded up, no tax, no rules."""
    base: dict[str, Any] = {
        "id": "acme",
        "name": "Acme Industries Ltd",
        "currency": "GBP",
        "tax_rate": "0",
        "payment_terms_days": 30,
        "billing": {"model": "hourly"},
        "rates": {"default": "100.00"},
        "rounding": {"increment_minutes": 15, "mode": "up"},
        "group_by": "category",
        "rules": [],
    }
    base.update(overrides)
    return base


def entry(id: str, hours: str = "1", **overrides: Any) -> dict[str, Any]:
    """A billable entry of Bob Roe for acme on Monday 2026-03-02."""
    base: dict[str, Any] = {
        "id": id,
        "date": date(2026, 3, 2),
        "person": "Bob Roe",
        "client": "acme",
        "project_code": "ACM.WEB",
        "task": "Development",
        "notes": f"build feature {id}",
        "hours": hours,
        "billable": True,
        "row": next(_rows),
    }
    base.update(overrides)
    return base


def task(id: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": id, "client": "acme", "title": f"Task {id}", "status": "open", "row": next(_rows)}
    base.update(overrides)
    return base


def workspace(
    clients: list[dict[str, Any]] | None = None,
    entries: list[dict[str, Any]] | None = None,
    tasks: list[dict[str, Any]] | None = None,
    people: list[dict[str, Any]] | None = None,
) -> Workspace:
    return Workspace(
        root="(test)",
        settings=FirmSettings.model_validate(
            {"firm": "Test Studio", "base_currency": "GBP", "categories": CATEGORIES}
        ),
        clients=[Client.model_validate(c) for c in (clients or [client()])],
        people=[Person.model_validate(p) for p in (people or PEOPLE)],
        entries=[TimeEntry.model_validate(e) for e in (entries or [])],
        tasks=[Task.model_validate(t) for t in (tasks or [])],
    )
