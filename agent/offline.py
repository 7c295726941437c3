"""The offline model: the embedded default decision-maker when no Claude API key is configured.

It reads the conversation like any model would (the run's target, each tool's result) and decides the
next step from what it sees: it corrects arguments a tool rejected, stops when there is nothing to
invoice or a problem it cannot fix, and writes the approver's summary from the draft and the anomalies.
It never sees amounts it could change: those come from the engine, and notes are only counted as data.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from agent.model import AssistantTurn, Message, ToolCall, ToolSpec

PIPELINE = ("fetch_entries", "detect_anomalies", "reconcile_tasks", "categorize_entries", "draft_invoice")
_TARGET = re.compile(r"TARGET (\{.*?\})")


class OfflineModel:
    """A deterministic policy over the invoice run's tools."""

    name = "offline"

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        target = _target(messages)
        if target is None:
            return AssistantTurn(text="I need a client and a period to draft an invoice.")
        results = _results(messages)
        available = {t.name for t in tools}
        last = results[-1] if results else None

        if last is not None and last["is_error"]:
            if last["content"].startswith("invalid arguments") or "this run bills client" in last["content"]:
                return self._call(last["name"], target, len(messages))
            return AssistantTurn(text=f"I stopped: {last['content']}")
        if last is not None and last["name"] == "request_approval":
            return AssistantTurn(text="The draft is waiting for approval.")

        done = {r["name"] for r in results if not r["is_error"]}
        for name in PIPELINE:
            if name not in done and name in available:
                return self._call(name, target, len(messages))

        draft = _latest(results, "draft_invoice")
        if draft["empty"]:
            return AssistantTurn(text=_nothing_to_invoice(draft, _latest(results, "reconcile_tasks")))
        summary = _summary(draft, _latest(results, "detect_anomalies"), _latest(results, "fetch_entries"),
                           _latest(results, "categorize_entries"))
        return AssistantTurn(
            tool_calls=[
                ToolCall(id=f"offline_{len(messages)}", name="request_approval", arguments={"summary": summary})
            ],
            stop_reason="tool_use",
        )

    @staticmethod
    def _call(name: str, target: dict[str, str], n: int) -> AssistantTurn:
        return AssistantTurn(tool_calls=[ToolCall(id=f"offline_{n}", name=name, arguments=dict(target))],
                             stop_reason="tool_use")


def _target(messages: list[Message]) -> dict[str, str] | None:
    for m in messages:
        if m.role == "user" and (found := _TARGET.search(m.text)):
            data = json.loads(found[1])
            return {"client": str(data["client"]), "period": str(data["period"])}
    return None


def _results(messages: list[Message]) -> list[dict[str, Any]]:
    """Every tool result so far, with the name of the call it answers, in order."""
    names = {c.id: c.name for m in messages if m.role == "assistant" for c in m.tool_calls}
    return [
        {"name": names.get(r.tool_call_id, "?"), "is_error": r.is_error, "content": r.content}
        for m in messages
        if m.role == "tool"
        for r in m.tool_results
    ]


def _latest(results: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for r in reversed(results):
        if r["name"] == name and not r["is_error"]:
            parsed: dict[str, Any] = json.loads(r["content"])
            return parsed
    return {}


def _nothing_to_invoice(draft: dict[str, Any], reconcile: dict[str, Any]) -> str:
    tasks = reconcile.get("completed_in_period", [])
    milestones = [t for t in tasks if t.get("milestone_amount")]
    why = "no milestone was completed in the period" if not milestones else "nothing billable was found"
    return f"Nothing to invoice for {draft['client']} in {draft['period']}: {why}. No draft was sent for approval."


def _kinds(items: list[dict[str, Any]]) -> str:
    counts = Counter(i["kind"] for i in items)
    return ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in counts.items())


def _summary(draft: dict[str, Any], anomalies: dict[str, Any], entries: dict[str, Any],
             categories: dict[str, Any]) -> str:
    parts = [
        f"{draft['client']} {draft['period']}: {len(draft['lines'])} line(s), total {draft['total']} "
        f"{draft['currency']} (subtotal {draft['subtotal']}, tax {draft['tax']})."
    ]
    held, flagged = anomalies.get("held", []), anomalies.get("flagged", [])
    if held:
        parts.append(f"Held off the invoice until you decide: {len(held)} ({_kinds(held)}).")
    if flagged:
        parts.append(f"Billed but flagged: {len(flagged)} ({_kinds(flagged)}).")
    if draft.get("excluded"):
        n = draft["excluded"]
        parts.append(f"{n} entr{'y' if n == 1 else 'ies'} excluded by the client's rules or the reviewer.")
    count = entries.get("count", 0)
    held_entries = {h["entry_id"] for h in held}
    if count and len(held_entries) * 2 > count:
        parts.append("Most of the period's time is held: check the held entries before approving.")
    if Decimal(draft.get("cap_adjustment", "0")) < 0:
        parts.append(f"The client's cap reduced the invoice by {draft['cap_adjustment'].lstrip('-')}.")
    if categories.get("uncertain"):
        parts.append(f"{categories['uncertain']} entr{'y has' if categories['uncertain'] == 1 else 'ies have'} "
                     "an uncertain category; each is flagged with its reason.")
    if not held and not flagged:
        parts.append("No anomalies were found.")
    return " ".join(parts)
