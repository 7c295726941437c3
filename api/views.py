"""Reading the store into the API's public models: a run with its audit log, a draft, the inbox."""

from __future__ import annotations

from agent.review import Review
from api.background import RunService
from api.notify import WaitingDraft
from api.schemas import ApprovalPublic, DraftPublic, RunPublic
from tools.store import ApprovalRecord, DraftRecord, RecordNotFoundError, Store


def approval_of(store: Store, run_id: str) -> ApprovalRecord | None:
    try:
        return store.get_approval(run_id)
    except RecordNotFoundError:
        return None


def run_view(service: RunService, run_id: str) -> RunPublic:
    store = service.store
    run = service.run(run_id)
    draft = store.latest_draft(run_id)
    message = service.message(run_id)
    if message is None and draft is not None:  # a run of another process, or one still finishing its step
        message = notice_of(service, draft).summary()
    return RunPublic.of(run, message=message, draft=draft, approval=approval_of(store, run_id),
                        invoice=store.invoice_for_run(run_id), decisions=store.decisions(run_id))


def notice_of(service: RunService, record: DraftRecord) -> WaitingDraft:
    return WaitingDraft.of(record.run_id, record.draft, service.settings.review_url(record.run_id),
                           Review.model_validate(record.review) if record.review else None)


def draft_view(service: RunService, run_id: str, version: int | None = None) -> DraftPublic:
    store = service.store
    run = service.run(run_id)
    if version is None:
        record = store.latest_draft(run_id)
        if record is None:
            raise RecordNotFoundError("draft", f"{run_id} (the run is {run.status} and has drafted nothing yet)")
    else:
        record = store.get_draft(run_id, version)
    return DraftPublic.of(record, approval=approval_of(store, run_id), summary=notice_of(service, record).summary(),
                          review_url=service.settings.review_url(run_id))


def inbox_view(service: RunService, approval: ApprovalRecord) -> ApprovalPublic:
    record = service.store.get_draft(approval.run_id, approval.draft_version)
    notice = notice_of(service, record)
    draft = record.draft
    return ApprovalPublic(
        run_id=approval.run_id, draft_version=approval.draft_version, requested_at=approval.requested_at,
        client=draft.client, client_name=draft.client_name, period_start=draft.period_start,
        period_end=draft.period_end, currency=draft.currency, total=draft.total, anomalies=notice.anomalies,
        held=notice.held, summary=notice.summary(), review_url=notice.review_url,
    )
