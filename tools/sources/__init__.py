"""Where time and tasks come from: Harvest, Toggl Track and Clockify (time); Asana, ClickUp and Jira (tasks).

    base.py       the records (SourceEntry, SourceTask), the TimeSource/TaskSource Protocols, HttpApi
    harvest.py, toggl.py, clockify.py, asana.py, clickup.py, jira.py    one connector per API
    importers.py  CSV exports (Harvest detailed time, Toggl and Clockify detailed reports) -> entries
    mapping.py    source project/client -> workspace client (sources.yaml), never guessed
    sync.py       merging into time_entries.csv / tasks.csv atomically, incrementally, noticing deletions
    triggers.py   signed webhooks and the schedule -> "start a run for client X, period P", once
    settings.py   credentials (INVOICE_AGENT_HARVEST_TOKEN, ...)
    commands.py   `invoice-agent sync | import | sources map | sources schedule` (registered by api/cli.py)

`time_source("harvest", settings)` / `task_source("asana", settings, mapping)` build a connector.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import httpx

from tools.sources.base import SourceEntry, SourceProject, SourceTask, TaskSource, TimeSource
from tools.sources.errors import SourceConfigError
from tools.sources.mapping import TASK_SYSTEMS, TIME_SYSTEMS, SourcesMapping
from tools.sources.settings import SourceSettings

__all__ = [
    "TASK_SYSTEMS", "TIME_SYSTEMS", "SourceEntry", "SourceProject", "SourceSettings", "SourceTask", "TaskSource",
    "TimeSource", "task_source", "time_source",
]


def time_source(system: str, settings: SourceSettings, *, transport: httpx.BaseTransport | None = None,
                sleep: Callable[[float], None] = _time.sleep) -> TimeSource:
    """The connector of a time tracker, configured from `settings`."""
    from tools.sources.clockify import ClockifySource
    from tools.sources.harvest import HarvestSource
    from tools.sources.toggl import TogglSource

    kinds: dict[str, type[HarvestSource] | type[TogglSource] | type[ClockifySource]] = {
        "harvest": HarvestSource, "toggl": TogglSource, "clockify": ClockifySource}
    if system not in kinds:
        raise SourceConfigError(system, f"{system!r} is not a time tracker; use one of {', '.join(TIME_SYSTEMS)}")
    return kinds[system](settings, transport=transport, sleep=sleep)


def task_source(system: str, settings: SourceSettings, mapping: SourcesMapping | None = None, *,
                transport: httpx.BaseTransport | None = None,
                sleep: Callable[[float], None] = _time.sleep) -> TaskSource:
    """The connector of a project tool; the mapping says which custom field holds a milestone's amount."""
    from tools.sources.asana import AsanaSource
    from tools.sources.clickup import ClickUpSource
    from tools.sources.jira import JiraSource

    kinds: dict[str, type[AsanaSource] | type[ClickUpSource] | type[JiraSource]] = {
        "asana": AsanaSource, "clickup": ClickUpSource, "jira": JiraSource}
    if system not in kinds:
        raise SourceConfigError(system, f"{system!r} is not a task source; use one of {', '.join(TASK_SYSTEMS)}")
    field = (mapping or SourcesMapping()).system(system).milestone_field
    return kinds[system](settings, milestone_field=field, transport=transport, sleep=sleep)
