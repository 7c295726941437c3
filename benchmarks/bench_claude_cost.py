"""Benchmark: what Claude costs per invoice, measured on the wire, for a month of the demo workspace.

Every client of the bundled demo with something to bill in October 2026 is drafted through the real graph
with `ClaudeModel`; its HTTP client is an `httpx2.MockTransport` that answers like the Messages API:

- it reads each request as sent (system, tools, messages, `cache_control` breakpoints, `tool_choice`);
- it counts tokens at 3 characters a token (Claude's tokenizer gives about 3.5 on English and fewer on
  JSON; 3 errs on the expensive side), and caches like the API: a prefix ending at a breakpoint is
  written to the cache (if it is at least the model's minimum, 1,024 tokens) and read by a later request
  sent within five minutes with the same prefix;
- it answers a realistic review: a suggestion for each uncertain entry listed (up to six), a sentence of
  advice for each kind of anomaly, three sentences of changes and a 90-word cover email.

It prints, per invoice and in all: requests, input tokens (uncached, cache write, cache read), output
tokens, and dollars at Sonnet-class prices ($3 / $15 per million, cache writes 1.25 x, reads 0.1 x) and at
the listed prices of the default model. Target: at most $0.02 per invoice at Sonnet-class prices.

    .venv/bin/python benchmarks/bench_claude_cost.py [--month 2026-10] [--as-of 2026-11-01]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2

from agent.claude import DEFAULT_MODEL, ClaudeModel
from agent.model import Usage
from agent.pricing import Price, cost_usd
from api.settings import DEMO_WORKSPACE, Settings
from api.wiring import open_runs
from tools.periods import Period

CHARS_PER_TOKEN = 3.0
MIN_CACHEABLE = 1024
SONNET_CLASS = Price(Decimal(3), Decimal(15), Decimal("3.75"), Decimal("0.30"))
TARGET_USD = Decimal("0.02")


def tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class MessagesAPI:
    """Answers POST /v1/messages like the API would, with the token counts of what it was sent."""

    cache: set[str] = field(default_factory=set)
    calls: list[Usage] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        usage = self._usage(body)
        self.calls.append(usage)
        review = self._review(json.loads(body["messages"][0]["content"][0]["text"].split("\n", 1)[1]))
        usage.output_tokens = tokens(review) + 20
        return httpx2.Response(200, json={
            "id": f"msg_{len(self.calls)}", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": f"toolu_{len(self.calls)}", "name": body["tool_choice"]["name"],
                         "input": review}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": usage.model_dump(),
        })

    def _usage(self, body: dict[str, Any]) -> Usage:
        """Cache reads, cache writes and uncached input, as the API counts them: in order tools, system,
        messages; each breakpoint closes a prefix that is read when cached, else written when long enough."""
        blocks: list[Any] = [*body.get("tools", []), *body.get("system", [])]
        for message in body["messages"]:
            blocks += message["content"] if isinstance(message["content"], list) else [message["content"]]
        usage, prefix, pending = Usage(), "", 0
        for block in blocks:
            prefix += json.dumps(block, sort_keys=True)
            pending += tokens(block)
            if isinstance(block, dict) and "cache_control" in block:
                if prefix in self.cache:
                    usage.cache_read_input_tokens += pending
                elif tokens(prefix) >= MIN_CACHEABLE:
                    self.cache.add(prefix)
                    usage.cache_creation_input_tokens += pending
                else:
                    continue  # too short to cache: it stays in the uncached count below
                pending = 0
        usage.input_tokens = pending
        return usage

    @staticmethod
    def _review(package: dict[str, Any]) -> dict[str, Any]:
        sentence = "The entry was logged on a task of another client and should be moved before billing it."
        return {
            "suggestions": [{"entry_id": e, "category": next(iter(package["catalogue"])),
                             "reason": "The notes describe a workshop with the client, not internal work."}
                            for e in list(package["uncertain"])[:6]],
            "anomalies": [{"kind": a["kind"], "explanation": sentence, "action": "ask_person"}
                          for a in package["anomalies"]],
            "changes": " ".join([f"The total is {package['totals']['total']} {package['currency']}."] * 3),
            "cover_email": " ".join(["Please find attached our invoice for the period; thank you for your"
                                     " business and do not hesitate to ask about any line."] * 4),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 1))
    args = parser.parse_args()

    api = MessagesAPI()
    model = ClaudeModel(DEFAULT_MODEL, api_key="sk-ant-bench", http_client=httpx2.Client(
        transport=httpx2.MockTransport(api)))
    period = Period.parse(args.month)
    settings = Settings(workspace=DEMO_WORKSPACE, data_dir=Path(tempfile.mkdtemp(prefix="bench-cost-")),
                        database_url=None, anthropic_api_key=None)
    rows = []
    with open_runs(settings, as_of=args.as_of, model=model) as runs:
        for client in runs.rt.workspace.clients:
            before = len(api.calls)
            outcome = runs.start(client.id, period, f"invoice {client.name} for {args.month}")
            if outcome.status != "awaiting_approval":
                continue
            used = sum(api.calls[before:], Usage())
            rows.append((client.id, len(api.calls) - before, used))

    print(f"{'client':<12} {'req':>3} {'uncached':>9} {'c.write':>8} {'c.read':>7} {'output':>7} "
          f"{'$ sonnet':>9} {'$ ' + DEFAULT_MODEL:>20}")
    total = Usage()
    for client, requests, u in rows:
        total += u
        print(f"{client:<12} {requests:>3} {u.input_tokens:>9} {u.cache_creation_input_tokens:>8} "
              f"{u.cache_read_input_tokens:>7} {u.output_tokens:>7} {SONNET_CLASS.cost(u):>9.4f} "
              f"{cost_usd(DEFAULT_MODEL, u):>20.4f}")
    n = len(rows)
    per_invoice = SONNET_CLASS.cost(total) / n if n else Decimal(0)
    print(f"\n{n} invoices, {len(api.calls)} requests; per invoice: {total.input_tokens / max(n, 1):.0f} uncached, "
          f"{total.cache_creation_input_tokens / max(n, 1):.0f} cache write, "
          f"{total.cache_read_input_tokens / max(n, 1):.0f} cache read, {total.output_tokens / max(n, 1):.0f} output")
    print(f"dollars per invoice: {per_invoice:.4f} at $3/$15 (target <= {TARGET_USD}: "
          f"{'met' if per_invoice <= TARGET_USD else 'NOT met'}); "
          f"{cost_usd(DEFAULT_MODEL, total) / max(n, 1):.4f} at {DEFAULT_MODEL}'s listed prices")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
