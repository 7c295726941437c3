"""Learning from the reviewer over HTTP: a category set through the API or the review page is kept as a
reviewer label under the token's name; refused edits teach nothing; approving labels the invoice's entries.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.test_review_page import csrf_of, signed_in


def learned(api: Api) -> dict[str, tuple[str, str, str | None, str | None]]:
    return {lb.entry_id: (lb.category, lb.source, lb.invoice_number, lb.who)
            for lb in api.service.store.learned_labels(api.service.workspace_root)}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_category_set_through_the_api_is_learned_and_kept_through_approval(api: Api) -> None:
    run_id = api.waiting_run()

    changed = api.client.post(f"/approvals/{run_id}/request-changes", headers=api.approver,
                              json={"categories": {"e5": "design"}})
    assert changed.status_code == 200, changed.text
    assert learned(api) == {"e5": ("design", "reviewer", None, "ann@firm")}

    approved = api.client.post(f"/approvals/{run_id}/approve", headers=api.approver)
    assert approved.status_code == 200, approved.text
    labels = learned(api)
    assert labels["e5"] == ("design", "reviewer", "TS-2026-0001", "ann@firm")
    assert labels["e2"] == ("development", "approved", "TS-2026-0001", "ann@firm")
    assert labels["e4"] == ("internal_meeting", "approved", None, "ann@firm")  # excluded by Acme's rule


def test_a_category_picked_on_the_review_page_is_learned(api: Api) -> None:
    run_id = api.waiting_run()
    client = signed_in(api, api.approver)
    csrf = csrf_of(client.get(f"/review/{run_id}").text)

    changed = client.post(f"/review/{run_id}/request-changes",
                          data={"csrf_token": csrf, "category:e3": "", "category:e8": "design"})

    assert changed.status_code == 200 and "Changes requested" in changed.text
    assert learned(api) == {"e8": ("design", "reviewer", None, "ann@firm")}  # a select left at "keep" says nothing


def test_refused_edits_teach_nothing(api: Api) -> None:
    run_id = api.waiting_run()

    refused = api.client.post(f"/approvals/{run_id}/request-changes", headers=api.approver,
                              json={"categories": {"e1": "astrology", "e99": "design"}})

    assert refused.status_code == 422
    assert learned(api) == {}
