"""The command line of the sources (api/cli.py registers these and hands them its settings):

    invoice-agent sync harvest|toggl|clockify [--from DATE] [--to DATE] [--full]
    invoice-agent sync asana|clickup|jira [--full]
    invoice-agent import FILE --from harvest|toggl|clockify [--date-format FMT]
    invoice-agent sources map SYSTEM                       list the source's projects and their clients
    invoice-agent sources map SYSTEM --project ID=CLIENT[:CODE] --client NAME=CLIENT --person NAME=PERSON
                                     --milestone-field FIELD --invoice-stage STAGE
    invoice-agent sources schedule [--as-of DATE]          start what the schedule says is due today

Each writes into the workspace named with --workspace (or INVOICE_AGENT_WORKSPACE): never the bundled demo.
Exit codes: 0 done; 1 done, but something was left out (unmapped projects, unreadable rows); 2 an error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from tools.files import MAX_YAML_BYTES, read_text
from tools.sources import task_source, time_source
from tools.sources.errors import MappingError, SourceConfigError
from tools.sources.importers import IMPORT_SYSTEMS, import_export
from tools.sources.mapping import (
    SYSTEMS,
    TASK_SYSTEMS,
    TIME_SYSTEMS,
    ProjectLink,
    SourcesMapping,
    load_mapping,
    save_mapping,
)
from tools.sources.settings import SourceSettings
from tools.sources.sync import client_ids, sync_tasks, sync_time
from tools.sources.triggers import RunStarter, Triggers

Command = Callable[..., argparse.ArgumentParser]
RunsOpener = Callable[[date | None], AbstractContextManager[RunStarter]]


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.rpartition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def register(commands: Any, command: Command) -> None:
    """Add `sync`, `import` and `sources` to the CLI's subcommands (`command` adds --workspace/--data)."""
    sync = command("sync", "bring entries (Harvest, Toggl, Clockify) or tasks (Asana, ClickUp, Jira) into the "
                           "workspace; incremental after the first time")
    sync.add_argument("system", choices=SYSTEMS)
    sync.add_argument("--from", dest="start", type=_date, default=None,
                      help="first day of the window of time entries (default: the first of last month)")
    sync.add_argument("--to", dest="end", type=_date, default=None, help="last day of the window (default: today)")
    sync.add_argument("--full", action="store_true", help="read everything again (and notice every deletion)")

    imp = command("import", "import a tracker's detailed CSV export into time_entries.csv", state=False)
    imp.add_argument("file", type=Path)
    imp.add_argument("--from", dest="system", required=True, choices=IMPORT_SYSTEMS)
    imp.add_argument("--date-format", default=None,
                     help="strptime format of the export's dates when ambiguous, e.g. %%d/%%m/%%Y")

    sources = commands.add_parser("sources", help="source mapping and scheduled triggers",
                                  description="source mapping and scheduled triggers")
    subs = sources.add_subparsers(dest="sources_command", required=True)
    mapping = subs.add_parser("map", help="map source projects/clients to workspace clients (sources.yaml)",
                              description="Without options: list the source's projects and their mapping.")
    mapping.add_argument("system", choices=SYSTEMS)
    mapping.add_argument("--project", action="append", default=[], type=_pair, metavar="ID_OR_NAME=CLIENT[:CODE]")
    mapping.add_argument("--client", action="append", default=[], type=_pair, metavar="SOURCE_CLIENT=CLIENT",
                         help="every project of this source client")
    mapping.add_argument("--person", action="append", default=[], type=_pair, metavar="SOURCE_USER=PERSON")
    mapping.add_argument("--unmap", action="append", default=[], metavar="ID_OR_NAME")
    mapping.add_argument("--milestone-field", default=None, help="custom field holding a milestone's amount")
    mapping.add_argument("--invoice-stage", default=None, help='a task moving to it starts a run ("" for none)')
    mapping.add_argument("--show", action="store_true", help="print the mapping only (no call to the source)")
    schedule = subs.add_parser("schedule", help="start the runs due today (retainer billing days, approved "
                                                "timesheets), at most one per client and period")
    schedule.add_argument("--as-of", type=_date, default=None, help="today's date (default: today)")
    for sub in (mapping, schedule):
        sub.add_argument("--workspace", type=Path, default=None, help="workspace folder")
        sub.add_argument("--data", type=Path, default=None, help="data folder (for schedule)")


def run(args: argparse.Namespace, workspace: Path, data_dir: Path, open_runs: RunsOpener, *,
        demo: Path | None = None, settings: SourceSettings | None = None) -> int:
    """Run `sync`, `import` or `sources`; `demo` is the bundled workspace, which is never written."""
    if demo is not None and Path(workspace).resolve() == Path(demo).resolve() and not (
            args.command == "sources" and (args.sources_command == "schedule" or args.show)):
        raise SourceConfigError("sources", "name the workspace to write with --workspace (or "
                                "INVOICE_AGENT_WORKSPACE): the bundled demo workspace is not written")
    settings = settings or SourceSettings()
    if args.command == "sync":
        return _sync(args, Path(workspace), settings)
    if args.command == "import":
        return _import(args, Path(workspace))
    if args.sources_command == "map":
        return _map(args, Path(workspace), settings)
    return _schedule(args, Path(workspace), data_dir, open_runs, settings)


def _sync(args: argparse.Namespace, workspace: Path, settings: SourceSettings) -> int:
    mapping = load_mapping(workspace)
    if args.system in TIME_SYSTEMS:
        today = date.today()
        end = args.end or today
        start = args.start or (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        source = time_source(args.system, settings)
        try:
            report = sync_time(workspace, source, mapping, start=start, end=end, full=args.full)
        finally:
            source.close()
    else:
        tasks = task_source(args.system, settings, mapping)
        try:
            report = sync_tasks(workspace, tasks, mapping, full=args.full)
        finally:
            tasks.close()
    print("\n".join(report.lines()))
    return 0 if report.complete else 1


def _import(args: argparse.Namespace, workspace: Path) -> int:
    result, report = import_export(workspace, args.file, args.system, load_mapping(workspace),
                                   date_format=args.date_format)
    print("\n".join(result.lines()))
    print("\n".join(report.lines()))
    return 0 if not result.problems and report.complete else 1


def _map(args: argparse.Namespace, workspace: Path, settings: SourceSettings) -> int:
    mapping = load_mapping(workspace)
    system = mapping.system(args.system)
    changed = bool(args.project or args.client or args.person or args.unmap or args.milestone_field is not None
                   or args.invoice_stage is not None)
    if changed:
        known = client_ids(workspace)
        for key, value in args.project:
            client, _, code = value.partition(":")
            _known_client(args.system, client, known)
            old = system.projects.get(key)
            system.projects[key] = ProjectLink(client=client, project_code=code or (old.project_code if old else ""),
                                               name=old.name if old else "")
        for key, client in args.client:
            _known_client(args.system, client, known)
            system.clients[key] = client
        for key, person in args.person:
            system.people[key] = person
        for key in args.unmap:
            if system.projects.pop(key, None) is None and system.clients.pop(key, None) is None:
                raise MappingError(args.system, f"nothing is mapped under {key!r}")
        if args.milestone_field is not None:
            system.milestone_field = args.milestone_field or None
        if args.invoice_stage is not None:
            system.invoice_stage = args.invoice_stage or None
        path = save_mapping(workspace, mapping)
        print(f"saved {path}")
    _print_mapping(args.system, mapping)
    if changed or args.show:
        return 0
    return _list_projects(args.system, workspace, mapping, settings)


def _known_client(system: str, client: str, known: set[str]) -> None:
    if client not in known:
        raise MappingError(system, f"no client {client!r} in clients.yaml; known: {', '.join(sorted(known))}")


def _print_mapping(system: str, mapping: SourcesMapping) -> None:
    own = mapping.system(system)
    print(f"{system} mapping ({len(own.projects)} project(s), {len(own.clients)} client(s), "
          f"{len(own.people)} person(s)):")
    for key, link in own.projects.items():
        code = f" [{link.project_code}]" if link.project_code else ""
        name = f" {link.name!r}" if link.name else ""
        print(f"  project {key}{name} -> {link.client}{code}")
    for key, client in own.clients.items():
        print(f"  client {key!r} -> {client}")
    for key, person in own.people.items():
        print(f"  person {key!r} -> {person}")
    if system in TASK_SYSTEMS:
        print(f"  milestone field: {own.milestone_field or '(none: no milestone amounts)'}; invoice stage: "
              f"{own.invoice_stage or '(none)'}")


def _list_projects(system: str, workspace: Path, mapping: SourcesMapping, settings: SourceSettings) -> int:
    source = time_source(system, settings) if system in TIME_SYSTEMS else task_source(system, settings, mapping)
    try:
        projects = source.list_projects()
    finally:
        source.close()
    own = mapping.system(system)
    names = _client_names(workspace)
    unmapped = 0
    print(f"{len(projects)} {system} project(s):")
    for project in projects:
        link = own.link(project_id=project.id, project_name=project.name, project_key=project.code,
                        client_id=project.client_id, client_name=project.client_name)
        client = f" (client {project.client_name!r})" if project.client_name else ""
        if link is not None:
            print(f"  {project.id:<14} {project.name!r}{client} -> {link.client}")
            continue
        unmapped += 1
        hint = ""
        match = names.get(" ".join(project.client_name.split()).casefold()) if project.client_name else None
        if match:
            hint = f"; its client has the name of {match!r}: --client '{project.client_name}={match}' maps it"
        print(f"  {project.id:<14} {project.name!r}{client} -> UNMAPPED{hint}")
    if unmapped:
        print(f"{unmapped} unmapped: their records are skipped until mapped with "
              f"invoice-agent sources map {system} --project ID=CLIENT[:CODE] (nothing is guessed)")
    return 1 if unmapped else 0


def _client_names(workspace: Path) -> dict[str, str]:
    """Workspace client names and aliases (casefolded) -> client id, to point at an exact match."""
    text = read_text(workspace / "clients.yaml", limit=MAX_YAML_BYTES)
    try:
        data = (yaml.safe_load(text) or {}) if isinstance(text, str) else {}
    except yaml.YAMLError:
        return {}
    names: dict[str, str] = {}
    for client in (data.get("clients") if isinstance(data, dict) else None) or []:
        if isinstance(client, dict) and client.get("id"):
            for name in [client.get("name"), *(client.get("aliases") or [])]:
                if isinstance(name, str) and name.strip():
                    names[" ".join(name.split()).casefold()] = str(client["id"])
    return names


def _schedule(args: argparse.Namespace, workspace: Path, data_dir: Path, open_runs: RunsOpener,
              settings: SourceSettings) -> int:
    as_of = args.as_of or date.today()
    triggers = Triggers(workspace, data_dir, lambda: open_runs(as_of), settings=settings, today=lambda: as_of)
    runs = triggers.scheduled(as_of)
    if not runs:
        print(f"nothing is due on {as_of}")
    for run in runs:
        print(f"{run.client} {run.period}: {run.status} {run.run_id or ''} ({run.reason}) {run.message}".rstrip())
    return 1 if any(r.status == "failed" for r in runs) else 0


__all__ = ["register", "run"]
