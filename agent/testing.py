"""Test doubles of `Model` that ship with the package, so tests and evals can script a conversation.

`ScriptedModel` plays back a list of turns; `FunctionModel` calls a function for each turn. Both record
every call (system, messages, tool names) so tests can assert on the conversation, not just the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.model import AssistantTurn, Message, ToolCall, ToolSpec

_ids = itertools.count(1)


def call(name: str, **arguments: Any) -> ToolCall:
    """A tool call with a fresh id, for scripting turns."""
    return ToolCall(id=f"call_{next(_ids)}", name=name, arguments=arguments)


def turn(*calls: ToolCall, text: str = "") -> AssistantTurn:
    return AssistantTurn(text=text, tool_calls=list(calls), stop_reason="tool_use" if calls else "end_turn")


@dataclass
class Recorded:
    system: str
    messages: list[Message]
    tools: list[str]


@dataclass
class ScriptedModel:
    """Plays back `turns` one per call; running out of script is an error the test will see."""

    turns: list[AssistantTurn]
    name: str = "scripted"
    calls: list[Recorded] = field(default_factory=list)

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        self.calls.append(Recorded(system, list(messages), [t.name for t in tools]))
        if len(self.calls) > len(self.turns):
            raise AssertionError(f"ScriptedModel ran out of turns after {len(self.turns)}")
        return self.turns[len(self.calls) - 1]


@dataclass
class FunctionModel:
    """Calls `fn(system, messages, tools)` for each turn."""

    fn: Callable[[str, list[Message], list[ToolSpec]], AssistantTurn]
    name: str = "function"
    calls: list[Recorded] = field(default_factory=list)

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        self.calls.append(Recorded(system, list(messages), [t.name for t in tools]))
        return self.fn(system, messages, tools)
