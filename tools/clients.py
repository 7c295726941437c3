"""Finding a client by what people type: its id, its name or one of its aliases (any case)."""

from __future__ import annotations

from tools.domain import Client, Workspace
from tools.errors import UnknownClientError


def find_client(workspace: Workspace, query: str) -> Client:
    """The client whose id, name or alias equals `query` (case and surrounding spaces aside)."""
    wanted = " ".join(query.split()).casefold()
    for client in workspace.clients:
        if client.id == query.strip():
            return client
    for client in workspace.clients:
        names = [client.id, client.name, *client.aliases]
        if any(" ".join(n.split()).casefold() == wanted for n in names):
            return client
    raise UnknownClientError(query, [c.id for c in workspace.clients])
