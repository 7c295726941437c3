"""Questions about a run's draft: POST /runs/{run_id}/ask answers from the draft's own figures.

Anyone who may read the run may ask (a viewer's token will do). The answer is the app's model's (Claude,
every figure it quotes checked against the draft's, a sentence quoting any other removed and noted) or the
offline template's; `source` says which. See agent/ask.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from agent.ask import answer_question
from agent.model import Model
from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import RunId
from tools.store import RecordNotFoundError

__all__ = ["AnswerPublic", "QuestionCreate", "get_model", "router"]

router = APIRouter(prefix="/runs", tags=["runs"])


class QuestionCreate(BaseModel):
    """A question about the run's draft, in words."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str = Field(min_length=1, max_length=1000, examples=["why is the total up on last month?"])
    version: int | None = Field(default=None, ge=1, le=1_000_000, description="the draft's version (default: the "
                                                                                "latest)")


class AnswerPublic(BaseModel):
    """The answer, where it came from, and what the reader should know about it."""

    run_id: str
    draft_version: int
    question: str
    answer: str
    source: str = Field(description='the model that answered, or "offline" for the template answer')
    notes: list[str] = Field(description="sentences removed for quoting a figure the draft does not have, a model "
                                         "that failed, ...")
    figures_checked: bool = Field(description="every figure in the answer is one the code computed for this draft")
    relied_on: list[str] = Field(description="the draft's lines (L1, L2, ...) and entries the answer relies on")
    topics: list[str] = Field(description="what the question was read as being about (empty: it could not be "
                                          "placed, and the answer lists what can be asked)")


def get_model(service: ServiceDep) -> Model:
    """The model the app was made with (`create_app(model=...)`), else the configured one."""
    return service.model


ModelDep = Annotated[Model, Depends(get_model)]


@router.post("/{run_id}/ask", response_model=AnswerPublic, responses=responses(400, 401, 404, 422, 503))
def ask_about_draft(
    run_id: Annotated[RunId, Path(description="the run whose draft the question is about")],
    body: QuestionCreate,
    token: CurrentToken,
    service: ServiceDep,
    model: ModelDep,
) -> AnswerPublic:
    """Answer a question about the run's draft ("why is the total up?", "what is held?", "who worked most?")
    from its lines, entries and the client's earlier invoices; every figure quoted is computed by code."""
    run = service.run(run_id)
    record = (service.store.get_draft(run_id, body.version) if body.version is not None
              else service.store.latest_draft(run_id))
    if record is None:
        raise RecordNotFoundError("draft", f"{run_id} (the run is {run.status} and has drafted nothing yet)")
    answer = answer_question(service.workspace(), record.draft, body.question, model=model)
    return AnswerPublic(run_id=run_id, draft_version=record.version, question=body.question, answer=answer.text,
                        source=answer.source, notes=answer.notes, figures_checked=answer.figures_checked,
                        relied_on=answer.relied_on, topics=answer.topics)
