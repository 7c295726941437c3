"""POST /runs and GET /runs/{id}: runs draft in the background, the request answers at once, status is polled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent.model import AssistantTurn, Message, ToolCall, ToolSpec
from api.settings import Settings
from tests.api.conftest import AS_OF, Api
from tools.errors import ModelUnavailableError


class GatedModel:
    """A model whose answer (an empty review) waits until the test opens the gate (or fails while `broken`)."""

    name = "gated"

    def __init__(self, *, open_: bool = False) -> None:
        self.gate = threading.Event()
        if open_:
            self.gate.set()
        self.broken: Exception | None = None

    def respond(self, system: str, messages: list[Message], tools: list[ToolSpec], *,
                force: str | None = None) -> AssistantTurn:
        assert self.gate.wait(20), "the test never opened the gate"
        if self.broken is not None:
            raise self.broken
        return AssistantTurn(tool_calls=[ToolCall(id="gated", name=force or "", arguments={})], stop_reason="tool_use")


def test_a_request_in_words_is_drafted_in_the_background_and_polled_to_its_draft(api: Api) -> None:
    response = api.client.post("/runs", json={"text": "invoice Acme for March", "as_of": AS_OF}, headers=api.approver)

    assert response.status_code == 202
    body = response.json()
    assert body["question"] is None and body["assumptions"] == ["took March to mean March 2026"]
    [started] = body["data"]
    assert started["client"] == "acme" and started["period"] == "2026-03" and started["status"] == "running"
    run = api.wait(started["run_id"])
    assert run["status"] == "awaiting_approval" and run["draft_version"] == 1
    assert run["approval"]["status"] == "pending" and run["invoice_id"] is None
    assert "780.00 GBP" in run["message"]
    assert [(d["action"], d["actor"]) for d in run["decisions"]] == [("requested", "ann@firm")]


def test_the_request_answers_while_the_run_is_still_drafting(make_api: Callable[..., Api]) -> None:
    model = GatedModel()
    api = make_api(model=model)

    began = time.monotonic()
    run_id = api.start()

    assert time.monotonic() - began < 5
    assert api.run(run_id)["status"] == "running"
    model.gate.set()
    assert api.wait(run_id)["status"] == "awaiting_approval"


def test_asking_again_while_a_run_drafts_or_waits_starts_nothing_new(make_api: Callable[..., Api]) -> None:
    model = GatedModel()
    api = make_api(model=model)
    run_id = api.start()

    again = api.client.post("/runs", json={"client": "Acme Industries Ltd", "period": "2026-03", "as_of": AS_OF},
                            headers=api.approver)

    assert again.status_code == 202
    [same] = again.json()["data"]
    assert same["status"] == "exists" and same["run_id"] == run_id and "already drafting" in same["message"]
    model.gate.set()
    api.wait(run_id)
    later = api.client.post("/runs", json={"text": "invoice acme for 2026-03", "as_of": AS_OF}, headers=api.approver)
    [same] = later.json()["data"]
    assert same["status"] == "exists" and same["run_id"] == run_id and "draft" in same["message"]


def test_a_client_and_period_start_one_run(api: Api) -> None:
    response = api.client.post("/runs", json={"client": "beta", "period": "2026-03", "as_of": AS_OF},
                               headers=api.approver)

    assert response.status_code == 202
    [started] = response.json()["data"]
    run = api.wait(started["run_id"])
    assert run["client"] == "beta" and run["period_start"] == "2026-03-01" and run["status"] == "awaiting_approval"


def test_an_unclear_request_starts_nothing_and_answers_with_the_question(api: Api) -> None:
    response = api.client.post("/runs", json={"text": "invoice Parallax for March"}, headers=api.approver)

    assert response.status_code == 200
    assert response.json() == {"data": [], "count": 0, "assumptions": [],
                               "question": "Which client do you mean? I know: Acme Industries Ltd, Beta GmbH."}
    assert api.service.store.list_runs() == []


def test_an_unknown_client_or_a_bad_period_is_a_422_that_names_the_problem(api: Api) -> None:
    unknown = api.client.post("/runs", json={"client": "zeta", "period": "2026-03"}, headers=api.approver)
    bad_period = api.client.post("/runs", json={"client": "acme", "period": "March"}, headers=api.approver)
    both_forms = api.client.post("/runs", json={"text": "invoice acme", "client": "acme"}, headers=api.approver)

    assert unknown.status_code == 422
    assert unknown.json() == {"error": "unprocessable",
                              "detail": "no client matches 'zeta'; known clients: acme, beta"}
    assert bad_period.status_code == 422 and "invalid period 'March'" in bad_period.json()["detail"]
    assert both_forms.status_code == 422
    assert api.service.store.list_runs() == []


def test_an_unknown_run_is_a_404(api: Api) -> None:
    response = api.client.get("/runs/nosuchrun", headers=api.viewer)

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no run 'nosuchrun' in the store"}


def test_a_run_whose_model_breaks_is_failed_with_the_reason(make_api: Callable[..., Api]) -> None:
    model = GatedModel(open_=True)
    model.broken = RuntimeError("the model adapter has a bug")
    api = make_api(model=model)

    run = api.wait(api.start())

    assert run["status"] == "failed" and "RuntimeError: the model adapter has a bug" in run["error"]
    assert api.client.get("/approvals", headers=api.viewer).json()["count"] == 0


def test_a_model_outage_leaves_the_draft_waiting_with_the_offline_review_and_the_reason(
    make_api: Callable[..., Api],
) -> None:
    model = GatedModel(open_=True)
    model.broken = ModelUnavailableError("Claude is overloaded (529) after 3 tries")
    api = make_api(model=model)
    run_id = api.start()
    assert api.wait(run_id)["status"] == "awaiting_approval"
    draft = api.client.get(f"/drafts/{run_id}", headers=api.viewer).json()
    assert draft["review"]["source"] == "offline" and "overloaded" in draft["review"]["notes"][0]


def test_a_run_that_crashed_mid_review_is_resumed_to_its_draft(make_api: Callable[..., Api]) -> None:
    model = GatedModel(open_=True)
    model.broken = RuntimeError("the process died mid-review")
    api = make_api(model=model)
    run_id = api.start()
    failed = api.wait(run_id)
    assert failed["status"] == "failed" and "died mid-review" in failed["error"]

    model.broken = None
    viewer_try = api.client.post(f"/runs/{run_id}/resume", headers=api.viewer)
    resumed = api.client.post(f"/runs/{run_id}/resume", headers=api.approver)

    assert viewer_try.status_code == 403
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "awaiting_approval" and resumed.json()["draft_version"] == 1
    again = api.client.post(f"/runs/{run_id}/resume", headers=api.approver)
    assert again.status_code == 409 and "nothing to resume" in again.json()["detail"]


def test_when_every_worker_is_busy_a_new_run_is_queued_not_refused(
    make_api: Callable[..., Api], settings: Settings
) -> None:
    model = GatedModel()
    api = make_api(model=model, settings=settings.model_copy(update={"run_workers": 1}))
    api.service.start_wait = 0.5
    first = api.start()

    queued = api.client.post("/runs", json={"client": "beta", "period": "2026-03", "as_of": AS_OF},
                             headers=api.approver)

    assert queued.status_code == 202
    [entry] = queued.json()["data"]
    assert entry["status"] == "queued" and entry["run_id"] is None and entry["client"] == "beta"
    assert f"/jobs/{entry['job_id']}" in entry["message"]
    job = api.client.get(f"/jobs/{entry['job_id']}", headers=api.viewer).json()
    assert (job["status"], job["run_id"], job["attempts"]) == ("queued", None, 0)
    model.gate.set()
    assert api.wait(first)["status"] == "awaiting_approval"
    job = api.wait_job(entry["job_id"])
    assert (job["status"], job["outcome"], job["attempts"]) == ("done", "awaiting_approval", 1)
    run = api.run(job["run_id"])
    assert run["client"] == "beta" and run["status"] == "awaiting_approval"
    assert [(d["action"], d["actor"]) for d in run["decisions"]] == [("requested", "ann@firm")]


def test_a_run_queued_by_a_server_without_workers_is_drafted_by_another_on_the_same_database(
    make_api: Callable[..., Api], settings: Settings
) -> None:
    front = make_api(settings=settings.model_copy(update={"run_workers": 0}))
    front.service.start_wait = 0.2
    [entry] = front.client.post("/runs", json={"text": "invoice Acme for March", "as_of": AS_OF},
                                headers=front.approver).json()["data"]
    assert entry["status"] == "queued"

    make_api(settings=settings.model_copy(update={"run_workers": 1, "job_poll_seconds": 0.05}))  # a second server

    job = front.wait_job(entry["job_id"])
    assert job["status"] == "done" and job["outcome"] == "awaiting_approval"
    run = front.run(job["run_id"])
    assert run["status"] == "awaiting_approval" and "780.00 GBP" in run["message"]
    assert [(d["action"], d["actor"]) for d in run["decisions"]] == [("requested", "ann@firm")]


def test_an_unknown_job_is_a_404(api: Api) -> None:
    response = api.client.get("/jobs/nosuchjob", headers=api.viewer)

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no job 'nosuchjob' in the store"}
