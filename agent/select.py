"""Which model decides: Claude when an API key is configured, else the offline model."""

from __future__ import annotations

from agent.model import Model
from agent.offline import OfflineModel


def choose_model(api_key: str | None, claude_model: str | None = None) -> Model:
    if api_key:
        from agent.claude import ClaudeModel

        return ClaudeModel(claude_model, api_key=api_key)
    return OfflineModel()
