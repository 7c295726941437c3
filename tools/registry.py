"""Typed tools: plain functions `verb_noun(deps, args: InputModel) -> OutputModel` turned into tool specs.

The spec a model reads comes from the function itself: its name, its docstring and the JSON schema of its
input model. `Registry.call` validates the model's arguments and turns every mistake the model could fix
(unknown tool, bad arguments, a domain error) into an error result it can read and correct, so a bad
tool call never crashes a run.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_type_hints, overload

from pydantic import BaseModel, ValidationError

from tools.errors import InvoiceAgentError, TerminalToolError

D = TypeVar("D")


@dataclass(frozen=True)
class Tool(Generic[D]):
    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fn: Callable[[D, Any], BaseModel]
    model_visible: bool = True

    def spec(self) -> dict[str, Any]:
        """The tool as the Messages API wants it: name, description, input JSON schema."""
        schema = self.input_model.model_json_schema()
        return {"name": self.name, "description": self.description, "input_schema": schema}


@overload
def tool(fn: Callable[[D, Any], BaseModel]) -> Tool[D]: ...


@overload
def tool(
    *, name: str | None = None, model_visible: bool = True
) -> Callable[[Callable[[D, Any], BaseModel]], Tool[D]]: ...


def tool(
    fn: Callable[[D, Any], BaseModel] | None = None, *, name: str | None = None, model_visible: bool = True
) -> Tool[D] | Callable[[Callable[[D, Any], BaseModel]], Tool[D]]:
    """Make a `Tool` of a function `(deps, args: InputModel) -> OutputModel` with a docstring.

    `name` overrides the function's name (when the function would shadow the capability it wraps).
    """

    def wrap(f: Callable[[D, Any], BaseModel]) -> Tool[D]:
        hints = get_type_hints(f)
        params = list(inspect.signature(f).parameters)
        if len(params) != 2:
            raise TypeError(f"tool {f.__name__} must take (deps, args)")
        input_model, output_model = hints[params[1]], hints["return"]
        doc = inspect.getdoc(f)
        if not doc:
            raise TypeError(f"tool {f.__name__} needs a docstring: it is what the model reads")
        return Tool(name or f.__name__, doc, input_model, output_model, f, model_visible)

    return wrap(fn) if fn is not None else wrap


class Registry(Generic[D]):
    """The tools one kind of run offers, by name."""

    def __init__(self, tools: Iterable[Tool[D]]) -> None:
        self.tools = {t.name: t for t in tools}

    def specs(self) -> list[dict[str, Any]]:
        """Specs of the tools a model may call (graph-only tools are left out)."""
        return [t.spec() for t in self.tools.values() if t.model_visible]

    def call(self, name: str, arguments: dict[str, Any], deps: D) -> tuple[str, bool, BaseModel | None]:
        """Run one tool call; returns (content for the model, is_error, output model or None).

        Raises only `TerminalToolError`, for a run that cannot go on; everything the model could correct
        comes back as an error result.
        """
        t = self.tools.get(name)
        if t is None or not t.model_visible:
            known = ", ".join(n for n, x in self.tools.items() if x.model_visible)
            return f"unknown tool {name!r}; the tools are: {known}", True, None
        try:
            args = t.input_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in exc.errors()
            )
            return f"invalid arguments for {name}: {problems}. Call it again with corrected arguments.", True, None
        try:
            output = t.fn(deps, args)
        except TerminalToolError:
            raise
        except InvoiceAgentError as exc:
            return f"{name} failed: {exc}", True, None
        return json.dumps(output.model_dump(mode="json"), ensure_ascii=False), False, output

    def call_direct(self, name: str, args: BaseModel, deps: D) -> BaseModel:
        """Run a tool from the graph itself (e.g. the post-approval tools), without a model in between."""
        return self.tools[name].fn(deps, args)
