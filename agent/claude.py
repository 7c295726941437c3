"""`ClaudeModel`: the `Model` protocol on Anthropic's Messages API with tool use.

This is the only module that imports `anthropic`. It holds the translation both ways (our `Message`s and
`ToolSpec`s into a Messages-API request; the response into an `AssistantTurn` with usage and estimated
cost), prompt caching, bounded retries, and the translation of the SDK's exceptions into the
`tools.errors.ModelError` family. It knows nothing about invoices.

On the wire:
- `user` -> a user message of one text block; `assistant` -> text then `tool_use` blocks; `tool` -> a user
  message of `tool_result` blocks (`tool_use_id`, `content`, `is_error`). Consecutive turns of one role are
  merged, since the API wants roles to alternate; in a merged user message the tool results come first,
  since the API wants them before any text. Tool output travels only inside `tool_result` blocks, as data.
- Prompt caching: the system prompt is one text block and the last tool spec carries
  `cache_control: {"type": "ephemeral"}`, so tools + system are read from the cache on later calls (of
  this run and of the next client's); once the conversation goes past its first message, its newest block
  carries a second, rolling breakpoint, so a retry or a continuation reads the whole prefix from the cache.
- Structured answers: `force` sets `tool_choice` to that one tool (agent/structured.py validates what comes
  back). Thinking is off on every call (`thinking: {"type": "disabled"}`): these are short judgments
  that do not need it, a forced tool choice does not allow it, and it would be paid as output tokens.
- Retries are ours, not the SDK's (`max_retries=0`: the SDK honours any `retry-after` without a bound):
  429, 408, 5xx (529 "overloaded" included) and connection errors are tried up to `max_attempts` times,
  waiting what `retry-after` says but never more than `max_wait_seconds`, or an exponential backoff with
  jitter when it says nothing. A 429 that means "spend limit reached" is not retried: waiting cannot help.
- Stop reasons: `end_turn`, `tool_use` and `stop_sequence` give the turn; `pause_turn` is sent back to go on
  (up to `_CONTINUATIONS` times); `refusal`, `max_tokens` and `model_context_window_exceeded` raise
  `ModelStoppedError`: a cut or refused turn is never used as if it were an answer.
- Thinking blocks: should a server send them anyway, a `thinking` block that came with a tool call must be
  sent back, unchanged, with that assistant turn. Such a turn carries its raw blocks in
  `AssistantTurn.provider_content`; the graph keeps them in the conversation (so in checkpoints too), and
  they are sent back verbatim, even by another process resuming the run.

One instance per run: `total_usage` and `total_cost_usd` add up every call the instance made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Literal, TypeAlias, cast

import anthropic
import httpx2
import tenacity
from anthropic.types import (
    ContentBlock,
    ContentBlockParam,
    MessageParam,
    RedactedThinkingBlock,
    TextBlock,
    TextBlockParam,
    ThinkingBlock,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
)
from anthropic.types import Message as APIMessage

from agent.model import AssistantTurn, Message, ToolCall, ToolSpec, Usage
from agent.pricing import cost_usd
from tools.errors import (
    ModelAuthError,
    ModelError,
    ModelRequestError,
    ModelSpendLimitError,
    ModelStoppedError,
    ModelUnavailableError,
)

__all__ = ["DEFAULT_MODEL", "MODEL_ENV", "ClaudeModel"]

MODEL_ENV = "INVOICE_AGENT_CLAUDE_MODEL"
DEFAULT_MODEL = "claude-sonnet-5-5"
"""The current Sonnet (November 2026). Model ids are retired on a schedule: override with INVOICE_AGENT_CLAUDE_MODEL."""

_OFFLINE = "run with the offline model (unset ANTHROPIC_API_KEY)"
_EPHEMERAL: anthropic.types.CacheControlEphemeralParam = {"type": "ephemeral"}
_SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})
_CONTINUATIONS = 3
"""How many times a paused turn (`stop_reason` pause_turn) is sent back to go on before giving up."""

_Block: TypeAlias = ContentBlockParam | ContentBlock
_Role: TypeAlias = Literal["user", "assistant"]


class ClaudeModel:
    """Claude behind the `Model` protocol.

    Args:
        model: a Messages-API model id; default `$INVOICE_AGENT_CLAUDE_MODEL`, else `DEFAULT_MODEL`.
        api_key: default `$ANTHROPIC_API_KEY`; neither set (and no `client`) raises `ModelAuthError`.
        client: a ready `anthropic.Anthropic`, used with `max_retries=0` whatever it was built with; with it,
            `api_key`, `http_client` and `timeout_seconds` are not used.
        http_client: an `httpx2.Client` for the SDK (the test seam: `httpx2.MockTransport`).
        max_tokens: the output cap per call (thinking counts towards it).
        max_attempts: calls made in all before a transient failure becomes `ModelUnavailableError`.
        max_wait_seconds: the longest wait between attempts, whatever `retry-after` asks for.
        timeout_seconds: per attempt.
        sleep: how to wait between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        client: anthropic.Anthropic | None = None,
        http_client: httpx2.Client | None = None,
        max_tokens: int = 1024,
        max_attempts: int = 4,
        max_wait_seconds: float = 30.0,
        timeout_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        self.model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self.name = self.model
        self.max_tokens = max_tokens
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        if client is None:
            api_key = api_key or os.environ.get("ANTHROPIC_API_KEY")
            if not api_key:
                raise ModelAuthError("ANTHROPIC_API_KEY is not set: set it to use Claude, or use the offline model")
            client = anthropic.Anthropic(api_key=api_key, http_client=http_client, timeout=timeout_seconds)
        self._client = client.with_options(max_retries=0)
        self._sleep = sleep
        self._backoff = tenacity.wait_exponential_jitter(initial=1, max=max_wait_seconds, jitter=1)
        self.total_usage = Usage()
        self._total_cost = Decimal(0)

    @property
    def total_cost_usd(self) -> float:
        """Estimated USD cost of every call so far (0 for calls to a model `agent.pricing` has no price for)."""
        return float(self._total_cost)

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        system_blocks: list[TextBlockParam] = (
            [{"type": "text", "text": system, "cache_control": _EPHEMERAL}] if system else []
        )
        tool_params: list[ToolParam] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools
        ]
        if tool_params:
            tool_params[-1]["cache_control"] = _EPHEMERAL
        message_params = self._message_params(messages)
        _mark_last_block(message_params)

        def call() -> APIMessage:
            return self._client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system_blocks or anthropic.omit,
                tools=tool_params or anthropic.omit,
                tool_choice={"type": "tool", "name": force} if force else anthropic.omit,
                thinking={"type": "disabled"},
                messages=message_params,
            )

        response = self._with_retries(call)
        content = list(response.content)
        usage, cost = self._account(response)
        for _ in range(_CONTINUATIONS):
            if response.stop_reason != "pause_turn":
                break
            # A paused turn goes on when its content so far is sent back as the assistant's turn.
            message_params = [*message_params, {"role": "assistant", "content": list(content)}]
            response = self._with_retries(call)
            content += response.content
            more, more_cost = self._account(response)
            usage, cost = usage + more, cost + more_cost
        _check_stop(response.stop_reason, self.max_tokens, response._request_id)
        return self._read(content, response.stop_reason or "end_turn", usage, cost)

    # --- request ---------------------------------------------------------------------------------------

    def _message_params(self, messages: list[Message]) -> list[MessageParam]:
        turns: list[tuple[_Role, list[_Block]]] = []
        for message in messages:
            role, blocks = self._blocks(message)
            if not blocks:
                continue  # an empty turn is a 400; there is nothing in it to say
            if turns and turns[-1][0] == role:
                turns[-1][1].extend(blocks)
            else:
                turns.append((role, blocks))
        params: list[MessageParam] = []
        for role, blocks in turns:
            if role == "user":
                results_first = sorted(blocks, key=lambda b: not _is_tool_result(b))  # stable
                params.append({"role": "user", "content": results_first})
            else:
                params.append({"role": "assistant", "content": blocks})
        return params

    def _blocks(self, message: Message) -> tuple[_Role, list[_Block]]:
        text: list[_Block] = [{"type": "text", "text": message.text}] if message.text else []
        if message.role == "user":
            return "user", text
        if message.role == "tool":
            results: list[_Block] = [
                ToolResultBlockParam(
                    type="tool_result", tool_use_id=r.tool_call_id, content=r.content, is_error=r.is_error
                )
                for r in message.tool_results
            ]
            return "user", results + text
        if message.provider_content:
            return "assistant", [cast(_Block, block) for block in message.provider_content]
        calls: list[_Block] = [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls
        ]
        return "assistant", text + calls

    # --- response --------------------------------------------------------------------------------------

    def _account(self, response: APIMessage) -> tuple[Usage, Decimal]:
        """One call's tokens and estimated cost, added to the instance's totals."""
        usage = Usage(
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cache_read_input_tokens=response.usage.cache_read_input_tokens or 0,
            cache_creation_input_tokens=response.usage.cache_creation_input_tokens or 0,
        )
        cost = cost_usd(response.model or self.model, usage)  # the model that answered is the one billed
        self.total_usage += usage
        self._total_cost += cost
        return usage, cost

    def _read(self, content: list[ContentBlock], stop_reason: str, usage: Usage, cost: Decimal) -> AssistantTurn:
        turn = AssistantTurn(
            text="\n\n".join(b.text for b in content if isinstance(b, TextBlock)),
            tool_calls=[
                ToolCall(id=b.id, name=b.name, arguments=b.input) for b in content if isinstance(b, ToolUseBlock)
            ],
            stop_reason=stop_reason,
            usage=usage,
            cost_usd=float(cost),
        )
        if turn.tool_calls and any(isinstance(b, ThinkingBlock | RedactedThinkingBlock) for b in content):
            turn.provider_content = [b.model_dump(mode="json", exclude_none=True) for b in content]
        return turn

    # --- retries and errors ----------------------------------------------------------------------------

    def _with_retries(self, call: Callable[[], APIMessage]) -> APIMessage:
        attempts = 0

        def attempt() -> APIMessage:
            nonlocal attempts
            attempts += 1
            return call()

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            retry=tenacity.retry_if_exception(_is_transient),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except anthropic.AnthropicError as exc:
            raise _translate(exc, attempts, self.model) from exc

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        asked = _retry_after(error) if isinstance(error, anthropic.APIStatusError) else None
        if asked is not None:
            return min(asked, self.max_wait_seconds)
        return self._backoff(state)


def _check_stop(stop_reason: str | None, max_tokens: int, request_id: str | None) -> None:
    """A turn that did not finish is never used: a cut tool call could run with half its arguments, and a
    refusal read as an answer would end the run as if nothing were wrong."""
    why = {
        "refusal": "Claude declined to go on with this run (stop_reason refusal)",
        "max_tokens": f"Claude's answer was cut at max_tokens={max_tokens}: nothing of that turn was used",
        "model_context_window_exceeded": "the conversation filled Claude's context window: the turn was cut",
        "pause_turn": f"Claude paused its turn {_CONTINUATIONS + 1} times in a row",
    }.get(stop_reason or "")
    if why is not None:
        raise ModelStoppedError(f"{why}; the run keeps its checkpoint: resume it later or {_OFFLINE}",
                                request_id=request_id)


def _mark_last_block(params: list[MessageParam]) -> None:
    """The rolling cache breakpoint: once a conversation has more than its first message (a retry, a
    continuation), its newest block is written to the cache, so the next call reads the whole prefix. A
    first message is not marked: most structured calls are answered at once, and a cache write costs
    1.25 x the input it stores."""
    if len(params) < 2:
        return
    content = params[-1]["content"]
    blocks: list[_Block] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    )
    last = blocks[-1]
    if isinstance(last, dict) and last.get("type") in ("text", "tool_result", "tool_use"):
        blocks[-1] = cast(_Block, {**last, "cache_control": _EPHEMERAL})
        cast(dict[str, object], params[-1])["content"] = blocks


def _is_tool_result(block: _Block) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_result"


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, anthropic.RateLimitError):
        return error.error_code not in _SPEND_LIMIT_CODES
    return isinstance(
        error, anthropic.InternalServerError | anthropic.RequestTimeoutError | anthropic.APIConnectionError
    )


def _retry_after(error: anthropic.APIStatusError) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, or `retry-after` in seconds), if it asked."""
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, ValueError):
            continue  # absent, or an HTTP date: the API sends seconds, so back off instead
    return None


def _translate(error: anthropic.AnthropicError, attempts: int, model: str) -> ModelError:
    """The SDK's exception as ours: what happened, and what the person running invoice-agent can do."""
    tried = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(error, anthropic.APIConnectionError):
        return ModelUnavailableError(
            f"could not reach Claude ({error.message}) {tried}; check the network, try again later or {_OFFLINE}"
        )
    if not isinstance(error, anthropic.APIStatusError):
        return ModelError(f"the call to Claude failed: {error}")
    status = error.status_code
    said = f"{status} {error.error_code or error.type or 'error'}: {error.api_message or error.message}"
    kind: type[ModelError]
    if status == 402 or error.error_code in _SPEND_LIMIT_CODES:
        kind, message = ModelSpendLimitError, (
            f"Claude refused: the organization's spend limit is reached ({said}); retrying will not help until it "
            f"resets or is raised in the Claude Console; meanwhile {_OFFLINE}"
        )
    elif status == 401:
        kind, message = ModelAuthError, f"Claude rejected the API key ({said}); check ANTHROPIC_API_KEY, or {_OFFLINE}"
    elif status == 403:
        kind, message = ModelAuthError, (
            f"the API key may not make this call ({said}); check its workspace and permissions in the Claude "
            f"Console, or {_OFFLINE}"
        )
    elif _is_transient(error):
        what = {
            529: "Claude is overloaded (529)",
            429: f"Claude is rate limiting us ({said})",
            408: "Claude timed out (408)",
        }.get(status, f"Claude had a server error ({said})")
        kind, message = ModelUnavailableError, f"{what} {tried}; try again later or {_OFFLINE}"
    elif status == 404:
        kind, message = ModelRequestError, (
            f"Claude has no such model or endpoint ({said}); check the model id {model!r} (set {MODEL_ENV})"
        )
    else:
        kind, message = ModelRequestError, (
            f"Claude rejected the request ({said}); sending it again will not help: check the model id {model!r} "
            f"({MODEL_ENV}) and max_tokens, else this is a bug in agent/claude.py"
        )
    return kind(message, status_code=status, request_id=error.request_id)
