"""Which workspace client each source project belongs to: configured once, in `<workspace>/sources.yaml`.

    harvest:
      projects:                       # source project id (or, for CSV exports, its name) -> client
        "19919748": {client: northwind, project_code: NWO.ECOM, name: Castle Building}
      clients:                        # or every project of a source client (id or name) -> client
        "Pepe": northwind
      people:                         # source user (id, name or email) -> people.csv person
        "Alexander Hamilton": Maya Okafor
    asana:
      projects: {"1204": {client: lumen, project_code: LUM.PORTAL}}
      milestone_field: Milestone amount   # custom field (name or id) holding a milestone's amount
      invoice_stage: Awaiting Invoice     # a task moving to this section/status starts a run
    schedule:
      billing_day: 1                  # retainer clients: a run for the previous month from this day on
      clients: {kestrel: 3}

Matching is exact (ids as given, names ignoring case and surrounding spaces); nothing is guessed. A
record whose project matches nothing is *unmapped*: it is not written, and the sync/import report lists
it with the command that maps it (`invoice-agent sources map`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.files import MAX_YAML_BYTES, Unreadable, read_text, write_atomic
from tools.sources.errors import MappingError

MAPPING_FILE = "sources.yaml"
TIME_SYSTEMS = ("harvest", "toggl", "clockify")
TASK_SYSTEMS = ("asana", "clickup", "jira")
SYSTEMS = TIME_SYSTEMS + TASK_SYSTEMS


class ProjectLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: str = Field(min_length=1)
    project_code: str = ""
    name: str = ""
    """The project's name in the source when it was mapped (shown in listings; also matched, exactly)."""


class SystemMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projects: dict[str, ProjectLink] = Field(default_factory=dict)
    clients: dict[str, str] = Field(default_factory=dict)
    people: dict[str, str] = Field(default_factory=dict)
    milestone_field: str | None = None
    invoice_stage: str | None = "Awaiting Invoice"

    def link(
        self, *, project_id: str = "", project_name: str = "", project_key: str = "", client_id: str = "",
        client_name: str = "",
    ) -> ProjectLink | None:
        """The workspace client of a source project, or None when it is not mapped (never a guess)."""
        projects = {_norm(k): v for k, v in self.projects.items()}
        for key in (project_id, project_key, project_name):
            if key and _norm(key) in projects:
                return projects[_norm(key)]
        if project_name:
            for link in self.projects.values():
                if link.name and _norm(link.name) == _norm(project_name):
                    return link
        clients = {_norm(k): v for k, v in self.clients.items()}
        for key in (client_id, client_name):
            if key and _norm(key) in clients:
                return ProjectLink(client=clients[_norm(key)])
        return None

    def person(self, name: str, *keys: str) -> str:
        """The people.csv name of a source user: the mapping's, else the source's own display name."""
        people = {_norm(k): v for k, v in self.people.items()}
        for key in (*keys, name):
            if key and _norm(key) in people:
                return people[_norm(key)]
        return name


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    billing_day: int = Field(default=1, ge=1, le=28)
    clients: dict[str, int] = Field(default_factory=dict)
    """Retainer clients billed on another day of the month."""


class SourcesMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    harvest: SystemMapping = Field(default_factory=SystemMapping)
    toggl: SystemMapping = Field(default_factory=SystemMapping)
    clockify: SystemMapping = Field(default_factory=SystemMapping)
    asana: SystemMapping = Field(default_factory=SystemMapping)
    clickup: SystemMapping = Field(default_factory=SystemMapping)
    jira: SystemMapping = Field(default_factory=SystemMapping)
    schedule: Schedule = Field(default_factory=Schedule)

    def system(self, name: str) -> SystemMapping:
        if name not in SYSTEMS:
            raise MappingError(name, f"unknown source {name!r}; known: {', '.join(SYSTEMS)}")
        mapping: SystemMapping = getattr(self, name)
        return mapping

    def clients_named(self) -> set[str]:
        named = {s.client for name in SYSTEMS for s in self.system(name).projects.values()}
        named |= {c for name in SYSTEMS for c in self.system(name).clients.values()}
        return named | set(self.schedule.clients)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Unmapped:
    """A source project that records came from but no mapping names."""

    system: str
    project_id: str
    project_name: str
    client_name: str = ""
    count: int = 0

    def describe(self) -> str:
        client = f" (client {self.client_name})" if self.client_name else ""
        ident = f"{self.project_id} " if self.project_id and self.project_id != self.project_name else ""
        name = f"{ident}{self.project_name!r}" if self.project_name else (self.project_id or "(no project)")
        key = self.project_id or self.project_name or "''"
        return (f"{name}{client}: {self.count} record(s) skipped; map it with: invoice-agent sources map "
                f"{self.system} --project {_quote(key)}=CLIENT[:PROJECT_CODE]")


def _quote(text: str) -> str:
    return f"'{text}'" if any(c in text for c in " '\"&|;()$") else text


def note_unmapped(found: dict[tuple[str, str], Unmapped], system: str, project_id: str, project_name: str,
                  client_name: str = "") -> None:
    key = (project_id, project_name)
    entry = found.setdefault(key, Unmapped(system, project_id, project_name, client_name))
    entry.count += 1


# ----------------------------------------------------------------------------------------------------
# The file


def mapping_path(workspace: Path) -> Path:
    return Path(workspace) / MAPPING_FILE


def load_mapping(workspace: Path) -> SourcesMapping:
    """The workspace's mapping (empty when there is no sources.yaml); a malformed file names the field."""
    path = mapping_path(workspace)
    if not path.is_file():
        return SourcesMapping()
    text = read_text(path, limit=MAX_YAML_BYTES)
    if isinstance(text, Unreadable):
        raise MappingError("sources", f"{path}{f':{text.line}' if text.line else ''}: {text.message}")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MappingError("sources", f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError("sources", f"{path}: expected a mapping of source names ({', '.join(SYSTEMS)})")
    _stringify_keys(data)
    try:
        return SourcesMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MappingError("sources", f"{path}: {problems}") from None


def _stringify_keys(data: Any) -> None:
    """YAML reads `19919748:` as an int key; ids are strings here."""
    if isinstance(data, dict):
        for key in list(data):
            value = data.pop(key)
            _stringify_keys(value)
            data[str(key)] = value
    elif isinstance(data, list):
        for item in data:
            _stringify_keys(item)


def save_mapping(workspace: Path, mapping: SourcesMapping) -> Path:
    path = mapping_path(workspace)
    data = mapping.model_dump(mode="json", exclude_defaults=True)
    text = ("# Source projects -> workspace clients (invoice-agent sources map). Exact matches only.\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    write_atomic(path, text)
    return path


def check_clients(mapping: SourcesMapping, client_ids: set[str]) -> list[str]:
    """Mapping entries naming a client the workspace does not have."""
    problems = []
    for name in SYSTEMS:
        system = mapping.system(name)
        for key, link in system.projects.items():
            if link.client not in client_ids:
                problems.append(f"{name}.projects.{key}: unknown client {link.client!r}")
        for key, client in system.clients.items():
            if client not in client_ids:
                problems.append(f"{name}.clients.{key}: unknown client {client!r}")
    for client in mapping.schedule.clients:
        if client not in client_ids:
            problems.append(f"schedule.clients.{client}: unknown client")
    return problems
