"""Load a workspace folder (WORKSPACE.md v1) into validated models, or report every problem at once.

`load_workspace(path)` reads every file, validates each record with pydantic, then checks the files
against each other (unknown clients, repeated ids, ...). If anything is wrong it raises one
`WorkspaceError` listing every `Issue` (file, line, field, what was expected); nothing is half loaded.

Files are read as UTF-8 (with or without a byte-order mark) or UTF-16 with one (`tools.files.read_text`);
a YAML file may be at most 10 MB and use at most `MAX_YAML_ALIASES` aliases expanding to at most
`MAX_YAML_NODES` values, so that a "billion laughs" document is refused before anything walks it.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tools.domain import (
    ClientsFile,
    EntryLabel,
    FirmSettings,
    HistoricalInvoice,
    HistoricalLine,
    InvoiceRow,
    Issue,
    Payment,
    PaymentLabel,
    Person,
    Task,
    TimeEntry,
    Workspace,
)
from tools.errors import WorkspaceError
from tools.files import MAX_CSV_BYTES, MAX_YAML_BYTES, Unreadable, read_text

M = TypeVar("M", bound=BaseModel)

# (file, model, required columns, columns whose empty cell means "not given")
_CSV_FILES: dict[str, tuple[type[BaseModel], tuple[str, ...], frozenset[str]]] = {
    "people.csv": (Person, ("person", "role"), frozenset({"email"})),
    "time_entries.csv": (
        TimeEntry,
        ("id", "date", "person", "client", "hours", "billable"),
        frozenset({"start", "end", "task_ref"}),
    ),
    "tasks.csv": (
        Task,
        ("id", "client", "status"),
        frozenset({"completed_at", "milestone_amount"}),
    ),
    "invoices.csv": (
        InvoiceRow,
        ("invoice_number", "client", "period_start", "period_end", "issue_date", "due_date", "currency",
         "line_no", "amount", "subtotal", "tax", "total", "status"),
        frozenset({"paid_date", "code", "quantity", "unit_price"}),
    ),
    "entry_labels.csv": (EntryLabel, ("entry_id", "category"), frozenset({"invoice_number", "anomaly", "billed"})),
    "payments.csv": (Payment, ("id", "date", "amount", "currency"), frozenset()),
    "payment_labels.csv": (PaymentLabel, ("payment_id", "invoice_numbers"), frozenset()),
}
_OPTIONAL_FILES = frozenset({"invoices.csv", "entry_labels.csv", "payments.csv", "payment_labels.csv"})


MAX_YAML_ALIASES = 1000
"""Aliases (`*name`) a YAML file may use: enough to share rates among hundreds of clients."""
MAX_YAML_NODES = 1_000_000
"""Values a YAML file may hold once every alias is expanded (a big clients.yaml holds tens of thousands)."""

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML that keeps decimals as written: `0.20` stays the string "0.20", never a float."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_workspace(path: str | Path) -> Workspace:
    """Read and validate a whole workspace folder; raise `WorkspaceError` listing every problem."""
    root = Path(path)
    if not root.is_dir():
        raise WorkspaceError(str(root), [Issue(file=str(root), message="no such workspace folder")])
    issues: list[Issue] = []

    with _collector_paused():
        settings = _load_yaml(root, "workspace.yaml", FirmSettings, issues)
        clients_file = _load_yaml(root, "clients.yaml", ClientsFile, issues)
        records: dict[str, list[Any]] = {}
        for name, (model, required, nullable) in _CSV_FILES.items():
            records[name] = _load_csv(root, name, model, required, nullable, issues)

    invoices = _group_invoices(records["invoices.csv"], issues)
    issues += _cross_check(settings, clients_file, records)
    if issues or settings is None or clients_file is None:
        raise WorkspaceError(str(root), issues)
    return Workspace(
        root=str(root.resolve()),  # the workspace's identity in the store: one spelling only
        settings=settings,
        clients=clients_file.clients,
        people=records["people.csv"],
        entries=records["time_entries.csv"],
        tasks=records["tasks.csv"],
        invoices=invoices,
        labels=records["entry_labels.csv"],
        payments=records["payments.csv"],
        payment_labels=records["payment_labels.csv"],
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while files are parsed into records.

    A workspace is tens of thousands of records (and, briefly, YAML node trees and CSV rows) that hold no
    reference cycles; as they pile up, the collector would walk all of them again and again for nothing
    (a tenth of a large load). Reference counting still frees whatever is dropped, any cycle waits for the
    collector's next run, and the collector is resumed unless something else had paused it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ----------------------------------------------------------------------------------------------------
# YAML


def _load_yaml(root: Path, name: str, model: type[M], issues: list[Issue]) -> M | None:
    path = root / name
    if not path.is_file():
        issues.append(Issue(file=name, message="file is missing"))
        return None
    text = read_text(path, limit=MAX_YAML_BYTES)
    if isinstance(text, Unreadable):
        issues.append(Issue(file=name, line=text.line, message=text.message))
        return None
    loader = _YamlLoader(text)  # a SafeLoader subclass
    try:
        tree = loader.get_single_node()
        problem = _expansion_problem(tree)
        if problem:
            issues.append(Issue(file=name, message=problem))
            return None
        data = loader.construct_document(tree) if tree is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        issues.append(Issue(file=name, line=line, message=f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    finally:
        loader.dispose()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = _without_union_tags(list(error["loc"]))
            issues.append(
                Issue(
                    file=name,
                    line=_yaml_line(tree, loc),
                    field=".".join(str(part) for part in loc),
                    message=_describe(error),
                )
            )
        return None


def _expansion_problem(tree: yaml.Node | None) -> str:
    """Why the YAML node graph must not be constructed ("" if it may): too many aliases, too many values
    once they are expanded (a "billion laughs" document), or an alias inside its own anchor.

    One walk over the distinct nodes (an alias is the anchored node itself, met again), without recursion:
    each node's expanded size is 1 + that of each child, so nested aliases multiply as they would in memory.
    """
    if tree is None:
        return ""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # the nodes whose children are being walked: an alias to one is a cycle
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(tree, False)]
    while stack:
        node, walked = stack.pop()
        key = id(node)
        children = _children(node)
        if walked:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_YAML_NODES:
                return (f"expands to more than {MAX_YAML_NODES:,} values through its aliases (*name), like a "
                        "\"billion laughs\" attack; write the values out instead of nesting aliases")
            continue
        if key in sizes or key in open_:
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                return f"uses more than {MAX_YAML_ALIASES:,} aliases (*name); write the values out instead"
            if key in open_:
                line = node.start_mark.line + 1
                return f"an alias refers to the anchor it is inside of (line {line}); a value cannot contain itself"
            continue
        open_.add(key)
        stack.append((node, True))
        stack += ((child, False) for child in reversed(children))
    return ""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _without_union_tags(loc: list[Any]) -> list[Any]:
    """Drop the tag pydantic inserts after `rules.N` (the rule's kind), so the path matches the YAML."""
    for i in range(len(loc) - 2):
        if loc[i] == "rules" and isinstance(loc[i + 1], int):
            return loc[: i + 2] + loc[i + 3 :]
    return loc


def _yaml_line(node: Any, loc: list[Any]) -> int | None:
    """The line of the YAML node at `loc` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _describe(error: Any) -> str:
    message = str(error["msg"])
    given = error.get("input")
    if error["type"] != "missing" and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


# ----------------------------------------------------------------------------------------------------
# CSV


def _load_csv(
    root: Path,
    name: str,
    model: type[BaseModel],
    required: tuple[str, ...],
    nullable: frozenset[str],
    issues: list[Issue],
) -> list[Any]:
    path = root / name
    if not path.is_file():
        if name not in _OPTIONAL_FILES:
            issues.append(Issue(file=name, message="file is missing"))
        return []
    text = read_text(path, limit=MAX_CSV_BYTES)
    if isinstance(text, Unreadable):
        issues.append(Issue(file=name, line=text.line, message=text.message))
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        issues.append(Issue(file=name, line=1, message="file is empty: expected a header row"))
        return []
    missing = [col for col in required if col not in header]
    if missing:
        issues.append(Issue(file=name, line=1, message=f"missing column(s): {', '.join(missing)}"))
        return []
    known = set(model.model_fields) - {"row"}
    indexes = [i for i, col in enumerate(header) if col in known]
    names = [header[i] for i in indexes]
    optional = [col for col in names if col in nullable]
    validate = model.__pydantic_validator__.validate_python  # model_validate, minus a wrapper per row
    records: list[Any] = []
    invalid: list[Issue] = []
    line = 1
    try:
        for cells in reader:
            start_line = line + 1
            line = reader.line_num
            if len(cells) != len(header):
                if any(c.strip() for c in cells):
                    issues.append(
                        Issue(
                            file=name,
                            line=start_line,
                            message=f"expected {len(header)} cells as in the header, found {len(cells)}",
                        )
                    )
                continue
            values = [cells[i].strip() for i in indexes]
            if not any(values):
                continue
            row: dict[str, Any] = dict(zip(names, values, strict=True))
            row["row"] = start_line
            for col in optional:
                if not row[col]:
                    del row[col]
            # Row by row rather than as one list: the row's dict is garbage at once, and a bad row costs
            # nothing more than its own issues.
            try:
                records.append(validate(row))
            except ValidationError as exc:
                invalid += [
                    Issue(
                        file=name,
                        line=start_line,
                        field=".".join(str(f) for f in error["loc"]),
                        message=_describe(error),
                    )
                    for error in exc.errors()
                ]
    except csv.Error as exc:
        issues.append(Issue(file=name, line=reader.line_num, message=f"not valid CSV: {exc}"))
    # The valid rows are kept so that the checks across files can still report on them.
    issues += invalid
    return records


# ----------------------------------------------------------------------------------------------------
# Across files


def _duplicates(name: str, field: str, records: Iterable[Any]) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for record in records:
        key = getattr(record, field)
        if key in seen:
            issues.append(
                Issue(file=name, line=record.row, field=field, message=f"{key!r} repeats line {seen[key]}")
            )
        else:
            seen[key] = record.row
    return issues


def _cross_check(
    settings: FirmSettings | None, clients_file: ClientsFile | None, records: dict[str, list[Any]]
) -> list[Issue]:
    issues: list[Issue] = []
    for name, field in (("people.csv", "person"), ("time_entries.csv", "id"), ("tasks.csv", "id"),
                        ("payments.csv", "id")):
        issues += _duplicates(name, field, records[name])
    if settings is None or clients_file is None:
        return issues  # their own problems are reported; references to them cannot be checked
    client_ids: dict[str, int] = {}
    categories = {c.id for c in settings.categories}
    for index, client in enumerate(clients_file.clients):
        where = f"clients.{index}"
        if client.id in client_ids:
            issues.append(Issue(file="clients.yaml", field=f"{where}.id", message=f"client id {client.id!r} repeats"))
        client_ids[client.id] = index
        for cat in client.rates.by_category:
            if cat not in categories:
                issues.append(
                    Issue(
                        file="clients.yaml",
                        field=f"{where}.rates.by_category.{cat}",
                        message=f"unknown category {cat!r}; workspace.yaml defines {', '.join(sorted(categories))}",
                    )
                )
    for name in ("time_entries.csv", "tasks.csv", "invoices.csv"):
        for record in records[name]:
            if record.client not in client_ids:
                issues.append(
                    Issue(
                        file=name,
                        line=record.row,
                        field="client",
                        message=f"unknown client {record.client!r}; clients.yaml defines "
                        f"{', '.join(sorted(client_ids)) or '(none)'}",
                    )
                )
    return issues


def _group_invoices(rows: list[InvoiceRow], issues: list[Issue]) -> list[HistoricalInvoice]:
    by_number: dict[str, list[InvoiceRow]] = defaultdict(list)
    for row in rows:
        by_number[row.invoice_number].append(row)
    invoices = []
    header_fields = ("client", "period_start", "period_end", "issue_date", "due_date", "currency",
                     "subtotal", "tax", "total", "status")
    for number, lines in by_number.items():
        first = lines[0]
        for other in lines[1:]:
            for field in header_fields:
                if getattr(other, field) != getattr(first, field):
                    issues.append(
                        Issue(
                            file="invoices.csv",
                            line=other.row,
                            field=field,
                            message=f"invoice {number} says {getattr(first, field)} on line {first.row}",
                        )
                    )
        invoices.append(
            HistoricalInvoice(
                invoice_number=number,
                client=first.client,
                period_start=first.period_start,
                period_end=first.period_end,
                issue_date=first.issue_date,
                due_date=first.due_date,
                currency=first.currency,
                lines=[
                    HistoricalLine(
                        line_no=ln.line_no,
                        description=ln.description,
                        category=ln.category,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                        amount=ln.amount,
                        code=ln.code,
                    )
                    for ln in sorted(lines, key=lambda r: r.line_no)
                ],
                subtotal=first.subtotal,
                tax=first.tax,
                total=first.total,
                status=first.status,
                paid_date=first.paid_date,
            )
        )
    return invoices
