"""Structured answers from a model: one forced tool call whose input is a pydantic model, checked by code.

Every judgment Claude makes (a draft's review, a request it reads, a reviewer's words, a question about a
draft, a client rule, a payment to match) is asked the same way: the answer's schema is the one tool the
model may call (`tool_choice` forces it), the arguments are validated with pydantic, an invalid answer is
shown its errors once, and a second invalid answer raises `ModelOutputError`. `judge` wraps that with the
offline answer: without Claude, or when Claude fails, is out of budget or answers nonsense twice, the
offline answer is used, with a note saying why.

What the model answers is a *suggestion*: callers check every id and figure in it against their own data
before a person sees it, and nothing here changes an invoice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from agent.model import AssistantTurn, Message, Model, ToolResult, ToolSpec, Usage
from agent.pricing import price_for
from tools.errors import ModelBudgetError, ModelError, ModelOutputError

T = TypeVar("T", bound=BaseModel)

OFFLINE = "offline"


CHARS_PER_TOKEN = 3
"""For estimating a call before it is made (Claude's tokenizer gives about 3.5 characters a token on
English, fewer on JSON: 3 errs on the expensive side)."""


@dataclass
class Meter:
    """What a run's model calls have spent, against its budget: checked before every call, with that call's
    estimated cost, so a call that would overspend is not made (a budget is a ceiling, not a tripwire)."""

    max_usd: Decimal = Decimal("0.02")
    max_tokens: int = 20_000
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens

    def check(self, tokens: int = 0, cost: Decimal = Decimal(0)) -> None:
        """Refuse a call expected to use `tokens` and cost `cost` if it would go past the budget."""
        if self.cost_usd + cost > self.max_usd or self.tokens + tokens > self.max_tokens:
            raise ModelBudgetError(
                f"this run's model budget is spent: {self.tokens} of {self.max_tokens} tokens and "
                f"${self.cost_usd:.4f} of ${self.max_usd} used, and the next call would take about {tokens} "
                f"tokens (${cost:.4f}); raise INVOICE_AGENT_RUN_BUDGET_USD or INVOICE_AGENT_RUN_BUDGET_TOKENS "
                "to allow more"
            )

    def charge(self, turn: AssistantTurn) -> None:
        self.usage += turn.usage
        self.cost_usd += Decimal(repr(turn.cost_usd))


@dataclass
class Judgment(Generic[T]):
    """An answer and where it came from: `source` is the model id, or "offline"."""

    value: T
    source: str
    notes: list[str] = field(default_factory=list)


def is_offline(model: Model | None) -> bool:
    return model is None or model.name == OFFLINE


def ask(model: Model, *, system: str, prompt: str, output: type[T], tool: str, description: str,
        meter: Meter | None = None) -> T:
    """The model's answer as an `output`, through a forced call of `tool`; one retry when it is invalid."""
    meter = meter or Meter()
    spec = ToolSpec(name=tool, description=description, input_schema=output.model_json_schema())
    messages = [Message(role="user", text=prompt)]
    problem = ""
    for _ in range(2):
        meter.check(*estimate(model, system, messages, spec))
        turn = model.respond(system, messages, [spec], force=tool)
        meter.charge(turn)
        value, problem, call_id = _read(turn, tool, output)
        if value is not None:
            return value
        messages.append(Message(role="assistant", text=turn.text, tool_calls=turn.tool_calls))
        if call_id:
            messages.append(Message(role="tool", tool_results=[ToolResult(
                tool_call_id=call_id, content=f"invalid answer: {problem}. Call {tool} again, corrected.",
                is_error=True)]))
        else:
            messages.append(Message(role="user", text=f"Answer by calling the tool {tool}: {problem}."))
    raise ModelOutputError(f"{model.name} gave no valid {tool} answer in two tries ({problem})")


def estimate(model: Model, system: str, messages: list[Message], spec: ToolSpec) -> tuple[int, Decimal]:
    """Tokens and dollars a call is expected to take: its prompt, and half the model's output cap (a
    structured answer rarely fills it). Dollars are 0 for a model `agent.pricing` has no price for."""
    sent = [system, spec.description, json.dumps(spec.input_schema)]
    for m in messages:
        sent += [m.text, *(r.content for r in m.tool_results), *(json.dumps(c.arguments) for c in m.tool_calls)]
    prompt = sum(len(text) for text in sent) // CHARS_PER_TOKEN
    output = int(getattr(model, "max_tokens", 1024)) // 2
    price = price_for(model.name)
    cost = (prompt * price.input + output * price.output) / 1_000_000 if price is not None else Decimal(0)
    return prompt + output, cost


def _read(turn: AssistantTurn, tool: str, output: type[T]) -> tuple[T | None, str, str]:
    """(value, "", id) when the turn answers validly; (None, what is wrong, call id or "") otherwise.

    A JSON object as plain text is read too (a server that ignores `tool_choice` still answers)."""
    calls = [c for c in turn.tool_calls if c.name == tool]
    if calls:
        arguments, call_id = calls[0].arguments, calls[0].id
    else:
        try:
            arguments, call_id = json.loads(turn.text.strip()), ""
        except ValueError:
            return None, f"the answer did not call {tool}", ""
    try:
        return output.model_validate(arguments), "", call_id
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:8])
        return None, errors, call_id


def judge(model: Model | None, *, offline: Callable[[], T], system: str, prompt: str, output: type[T],
          tool: str, description: str, meter: Meter | None = None) -> Judgment[T]:
    """The model's answer, or the offline one (with the reason) when there is no model or it failed."""
    if model is None or is_offline(model):
        return Judgment(offline(), OFFLINE)
    try:
        value = ask(model, system=system, prompt=prompt, output=output, tool=tool, description=description,
                    meter=meter)
    except ModelError as exc:
        return Judgment(offline(), OFFLINE, [f"Claude's answer was not used ({exc}); this is the offline answer"])
    return Judgment(value, model.name)
