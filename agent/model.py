"""The one seam between invoice-agent and whatever decides: a model that reads messages and calls tools.

A `Model` takes the system prompt, the conversation so far and the tool specs, and returns one
`AssistantTurn`: some text and zero or more `ToolCall`s; with `force`, it must call that tool (how
agent/structured.py asks for a structured answer). `ClaudeModel` (agent/claude.py) and `OfflineModel`
(agent/offline.py, which answers through each judgment's offline path) implement it; `ScriptedModel`
and `FunctionModel` (agent/testing.py) are the doubles that tests and evals use. Messages are JSON-plain
pydantic models so they can live in graph state and checkpoints.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class ToolSpec(BaseModel):
    """What the model is told about one tool: its name, the docstring it reads, its input JSON schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    tool_call_id: str
    content: str
    """JSON text of the tool's output model, or an error message the model can act on."""
    is_error: bool = False


class Message(BaseModel):
    """One turn of the conversation.

    `user` carries the request (and, quoted as data, anything read from entries); `assistant` carries the
    model's text and tool calls; `tool` carries the results of the previous assistant turn's calls.
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    provider_content: list[dict[str, Any]] | None = None
    """The provider's own blocks of an assistant turn (e.g. Claude's signed thinking), sent back verbatim."""


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


class AssistantTurn(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    """Estimated cost of this call; money of the firm's invoices is never a float, this is telemetry."""
    provider_content: list[dict[str, Any]] | None = None
    """Blocks the provider needs back unchanged with this turn; kept in the conversation (and checkpoints)."""


@runtime_checkable
class Model(Protocol):
    """Messages and tool specs in; one assistant turn (text and tool calls) out.

    With `force`, the turn must call that tool (a structured answer: see agent/structured.py)."""

    name: str

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn: ...
