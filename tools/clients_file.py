"""Changing one client's terms in clients.yaml: the new file text, checked by the loader, written atomically.

A person's rule changes touch one client. `clients_yaml_with` rewrites only that client's changed terms
(rates, rounding, group_by, rules) in place; every other line of the file, other clients, comments and
layout, stays exactly as written; `load_with_clients_yaml` runs the workspace
loader itself on a candidate text, so what is written is known to load; `write_clients_yaml` replaces the
file atomically (a temporary file in the same folder, then a rename), so a crash leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from tools.domain import Client, Workspace
from tools.errors import DomainError
from tools.workspace import load_workspace

__all__ = ["CLIENTS_FILE", "changed_terms", "clients_yaml_with", "load_with_clients_yaml", "write_clients_yaml"]

CLIENTS_FILE = "clients.yaml"
TERMS = ("rates", "rounding", "group_by", "rules")
"""The fields of a client that rules change (each written whole when it changes)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps decimals as written ("0.20" stays a string), as the workspace loader does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key, and strings quoted "like this", as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True,
                     width=1000)


def _dump_term(name: str, value: Any) -> str:
    """`name: value` as YAML: block style at the top, flow style for collections of plain values."""
    if isinstance(value, dict | list) and value:
        return _dump({name: value})
    return f"{name}: " + _dump(value).split("\n")[0] + "\n"


def _plain(value: Any) -> Any:
    """A term as YAML data: models as their JSON form (decimals as strings), rules without empty fields."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def changed_terms(before: Client, after: Client) -> dict[str, Any]:
    """The terms (rates, rounding, group_by, rules) that differ, as the YAML data to write for them."""
    return {name: _plain(getattr(after, name)) for name in TERMS if getattr(before, name) != getattr(after, name)}


def clients_yaml_with(text: str, client_id: str, changes: dict[str, Any]) -> str:
    """`text` (a clients.yaml) with the client's `changes` set, everything else left exactly as written."""
    data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    clients = data.get("clients") if isinstance(data, dict) else None
    if not isinstance(clients, list):
        raise DomainError("clients.yaml has no list of clients to change")
    index = next((i for i, c in enumerate(clients) if isinstance(c, dict) and str(c.get("id")) == client_id), None)
    if index is None:
        raise DomainError(f"clients.yaml has no client {client_id!r}")
    clients[index] = {**clients[index], **changes}
    replaced = _replace_terms(text, index, changes)
    if replaced is not None and yaml.load(replaced, Loader=_Loader) == data:
        return replaced
    return _dump(data)  # a layout the edit cannot follow (e.g. flow style): the whole file, as data


def _replace_terms(text: str, index: int, changes: dict[str, Any]) -> str | None:
    """The text with each changed term of the `index`-th client rewritten in place (or added at its end)."""
    root = yaml.compose(text, Loader=_Loader)
    if not isinstance(root, yaml.MappingNode):
        return None
    seq = next((v for k, v in root.value if k.value == "clients"), None)
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style or index >= len(seq.value):
        return None
    item = seq.value[index]
    if not isinstance(item, yaml.MappingNode) or item.flow_style or not item.value:
        return None
    column = item.start_mark.column
    spans: list[tuple[int, int, str]] = []
    for name, value in changes.items():
        found = next(((k, v) for k, v in item.value if k.value == name), None)
        block = _indented(_dump_term(name, value), column)
        if found is None:
            end = _content_end(text, item.start_mark.index, item.value[-1][1].end_mark.index)
            spans.append((end, end, "\n" + " " * column + block))
        else:
            start = found[0].start_mark.index
            spans.append((start, _content_end(text, start, found[1].end_mark.index), block))
    for start, end, block in sorted(spans, reverse=True):
        text = text[:start] + block + text[end:]
    return text


def _indented(dumped: str, column: int) -> str:
    """A dumped mapping placed at `column`: its first line where the old text started, the rest indented."""
    lines = dumped.rstrip("\n").split("\n")
    return "\n".join([lines[0], *(" " * column + line for line in lines[1:])])


def _content_end(text: str, start: int, end: int) -> int:
    """`end` moved back over trailing blank and comment-only lines (they belong to what follows)."""
    lines = text[start:end].split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return start + len("\n".join(lines).rstrip())


def load_with_clients_yaml(root: str | Path, text: str) -> Workspace:
    """The workspace at `root` loaded by the workspace loader with `text` as its clients.yaml.

    Raises `WorkspaceError` (every problem, by file, line and field) exactly as loading the folder would
    once the file is written. The other files are linked, not copied; the returned workspace's `root` is a
    temporary folder that no longer exists.
    """
    source = Path(root)
    with tempfile.TemporaryDirectory(prefix="invoice-agent-clients-") as tmp:
        for item in source.iterdir():
            if item.name != CLIENTS_FILE:
                (Path(tmp) / item.name).symlink_to(item.resolve())
        (Path(tmp) / CLIENTS_FILE).write_text(text, encoding="utf-8")
        return load_workspace(tmp)


def write_clients_yaml(root: str | Path, text: str) -> Path:
    """Replace the workspace's clients.yaml with `text` atomically (same folder, then `os.replace`)."""
    path = Path(root) / CLIENTS_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{CLIENTS_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
