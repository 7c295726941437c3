"""Recorded model responses ("cassettes"), so the Claude path is evaluated offline and reproducibly.

`CassetteModel` wraps a `Model`. Each request is keyed by a SHA-256 of (model id, system, messages, tool
specs, forced tool) as canonical JSON: a recording made with one model never answers for another.
Replaying, a recorded request gets its recorded `AssistantTurn`; an unrecorded one is an error (or, with
a live model to record from, is asked for real and written down). `cassette_model` records when
ANTHROPIC_API_KEY is set and only replays otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from agent.model import AssistantTurn, Message, Model, ToolSpec


class MissingRecording(LookupError):
    """A request with no recorded response, and no live model to record one from."""


def request_key(model: str, system: str, messages: list[Message], tools: list[ToolSpec],
                force: str | None = None) -> str:
    """A stable key of one request: the same model, prompt, conversation and tools give the same key."""
    payload: dict[str, Any] = {
        "model": model,
        "force": force,
        "system": system,
        "messages": [m.model_dump(mode="json", exclude={"provider_content"}) for m in messages],
        "tools": [t.model_dump(mode="json") for t in tools],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CassetteModel:
    """Replay recorded turns by request key; record new ones from `live` when it is given."""

    def __init__(self, path: str | Path, live: Model | None = None, *, name: str | None = None) -> None:
        self.path = Path(path)
        self.live = live
        self.name = name or (live.name if live is not None else "cassette")
        self.turns: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.turns = json.loads(self.path.read_text(encoding="utf-8"))
        self.hits = 0
        self.recorded = 0

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        key = request_key(self.name, system, messages, tools, force)
        if key in self.turns:
            self.hits += 1
            return AssistantTurn.model_validate(self.turns[key])
        if self.live is None:
            raise MissingRecording(f"no recorded response for request {key[:12]} in {self.path}; "
                                   "set ANTHROPIC_API_KEY to record it")
        turn = self.live.respond(system, messages, tools, force=force)
        self.turns[key] = turn.model_dump(mode="json")
        self.recorded += 1
        self.save()
        return turn

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.turns, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def cassette_model(path: str | Path, *, api_key: str | None = None, claude_model: str | None = None) -> CassetteModel:
    """Claude through a cassette: recording for real when a key is present, else replaying only."""
    from agent.claude import DEFAULT_MODEL, MODEL_ENV, ClaudeModel

    key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
    model_id = claude_model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    live = ClaudeModel(model_id, api_key=key) if key else None
    return CassetteModel(path, live, name=model_id)
