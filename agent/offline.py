"""The offline model: the embedded default when no Claude API key is configured.

It decides nothing through `respond`: every judgment has an offline answer of its own, written in code
next to the prompt that asks Claude for it (agent/review.py's offline review, the request grammar in
agent/requests.py, ...). `agent.structured.judge` sees a model named "offline" and uses that answer.
"""

from __future__ import annotations

from agent.model import AssistantTurn, Message, ToolSpec
from agent.structured import OFFLINE
from tools.errors import ModelError


class OfflineModel:
    """The absence of a remote model, as a `Model`: its answers are the offline paths'."""

    name = OFFLINE

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        raise ModelError("the offline model answers through each judgment's offline path, not respond(); "
                         "this is a bug in the caller: use agent.structured.judge")
