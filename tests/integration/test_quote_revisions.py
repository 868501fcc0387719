"""Revised quotes replace the old one (issue 14, case 4): a job has one live quote, its scope is
the approved option of its current quote, and the final invoice bills that scope."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.helpers import Api
from tests.integration.stripe_helpers import invoice, new_job, work
from tests.integration.test_pages import customer_page, post_form, text
from tests.integration.test_quotes import timeline_types, token_of

# chalicelib.services is imported inside tests: the store reads the settings on import,
# which must come after the session's moto server is up.

RACE_ROUNDS = 3  # each race runs this many times: either order must hold


# --- helpers -----------------------------------------------------------------------------------


def a_quote(owner: Api, job_id: str, total_cents: int) -> dict:
    """A draft quote of one untaxed option, so its total is the price."""
    body = {"options": [{"name": "Standard", "line_items": work(total_cents, "Water heater")}]}
    created = owner.post(f"/jobs/{job_id}/quotes", body)
    assert created.status_code == 201, created.body
    return created.data


def send(owner: Api, job_id: str, quote: dict) -> dict:
    sent = owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")
    assert sent.status_code == 200, sent.body
    return sent.data


def a_sent_quote(owner: Api, job_id: str, total_cents: int) -> tuple[dict, str]:
    """(the quote, the token of the link the customer was texted)."""
    sent = send(owner, job_id, a_quote(owner, job_id, total_cents))
    return sent, token_of(sent["link"])


def customer(owner: Api) -> Api:
    return Api(owner.client, "")


def approve(owner: Api, quote: dict, token: str):
    option = {"option_id": quote["options"][0]["id"], "signed_by": "Dana Whitfield"}
    return customer(owner).post(f"/public/quotes/{token}/approve", option)


def quote_now(owner: Api, job_id: str, quote: dict) -> dict:
    return owner.get(f"/jobs/{job_id}/quotes/{quote['id']}").data


def final_total(owner: Api, job_id: str) -> int:
    final = owner.post(f"/jobs/{job_id}/invoices", {"kind": "final"})
    assert final.status_code == 201, final.body
    return final.data["total_cents"]


def assert_superseded(response) -> None:
    assert response.status_code == 409, response.body
    assert response.data["error"]["code"] == "quote_superseded"
    assert "newer quote replaced" in response.data["error"]["message"]


# --- the case as it reads ----------------------------------------------------------------------


def test_a_revised_quote_replaces_the_old_one_and_the_final_invoice_bills_the_revision(owner):
    # Given quote A for 1,000.00 sent to the customer
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)

    # When the office sends a revision B for 1,500.00
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)

    # Then A's texted link answers 409 quote_superseded, to reading, approving and declining
    old_link = customer(owner)
    assert_superseded(old_link.get(f"/public/quotes/{token_a}"))
    assert_superseded(approve(owner, quote_a, token_a))
    assert_superseded(old_link.post(f"/public/quotes/{token_a}/decline", {}))
    # And the office sees A superseded by B, with no link to hand out
    shown_a = quote_now(owner, job_id, quote_a)
    assert (shown_a["status"], shown_a["superseded_by"], shown_a["link"]) == (
        "superseded",
        quote_b["id"],
        None,
    )
    assert owner.get(f"/jobs/{job_id}").data["quote"]["quote_id"] == quote_b["id"]
    # And the timeline says so once
    events = owner.get(f"/jobs/{job_id}/timeline").data["items"]
    [superseded] = [e for e in events if e["type"] == "QuoteSuperseded"]
    assert superseded["data"]["quote_id"] == quote_a["id"]
    assert superseded["data"]["superseded_by"] == quote_b["id"]

    # When the customer approves B
    assert approve(owner, quote_b, token_b).status_code == 200

    # Then the final invoice bills the revision, 1,500.00
    assert final_total(owner, job_id) == 150_000


def test_a_revision_sent_after_an_approval_replaces_the_scope_only_once_approved(owner):
    # Given quote A for 1,000.00, approved
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    assert approve(owner, quote_a, token_a).status_code == 200

    # When the office sends a revision B for 1,500.00
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)

    # Then A stays approved (it is still what the job will bill) and its link still shows it
    assert quote_now(owner, job_id, quote_a)["status"] == "approved"
    shown = customer(owner).get(f"/public/quotes/{token_a}")
    assert (shown.status_code, shown.data["status"]) == (200, "approved")

    # When the customer approves the revision
    approved = approve(owner, quote_b, token_b)

    # Then A is superseded by B, its link answers 409, and the final invoice bills B
    assert approved.status_code == 200, approved.body
    shown_a = quote_now(owner, job_id, quote_a)
    assert (shown_a["status"], shown_a["superseded_by"]) == ("superseded", quote_b["id"])
    assert_superseded(customer(owner).get(f"/public/quotes/{token_a}"))
    assert Counter(timeline_types(owner, job_id))["QuoteApproved"] == 2
    assert final_total(owner, job_id) == 150_000


def test_declining_a_revision_leaves_the_earlier_approval_in_force(owner):
    # Given quote A for 1,000.00 approved, and a revision B for 1,500.00 sent
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    approve(owner, quote_a, token_a)
    _, token_b = a_sent_quote(owner, job_id, 150_000)

    # When the customer declines the revision
    declined = customer(owner).post(f"/public/quotes/{token_b}/decline", {"reason": "Too dear"})

    # Then A is still approved and the final invoice bills it
    assert declined.status_code == 200, declined.body
    assert quote_now(owner, job_id, quote_a)["status"] == "approved"
    assert final_total(owner, job_id) == 100_000


def test_a_draft_written_before_the_quote_sent_is_superseded_but_not_one_written_after(owner):
    # Given an old draft, then quote B, then a new draft C (the next revision in progress)
    job_id = new_job(owner)["id"]
    old_draft = a_quote(owner, job_id, 90_000)
    quote_b = a_quote(owner, job_id, 100_000)
    new_draft = a_quote(owner, job_id, 110_000)

    # When B is sent
    send(owner, job_id, quote_b)

    # Then the old draft is superseded and cannot be sent; the new draft can
    assert quote_now(owner, job_id, old_draft)["status"] == "superseded"
    refused = owner.post(f"/jobs/{job_id}/quotes/{old_draft['id']}/send")
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "illegal_transition"
    assert quote_now(owner, job_id, new_draft)["status"] == "draft"
    send(owner, job_id, new_draft)
    assert quote_now(owner, job_id, quote_b)["status"] == "superseded"


# --- the customer's page -----------------------------------------------------------------------


def test_the_page_of_a_replaced_quote_says_a_newer_one_was_sent_and_links_to_it(owner):
    # Given quote A, replaced by quote B
    owner.patch("/settings", {"phone": "(312) 555-0100"})
    job_id = new_job(owner, title="Replace water heater")["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    _, token_b = a_sent_quote(owner, job_id, 150_000)

    # When the customer opens A's page
    page = customer_page(owner, f"/p/quotes/{token_a}")

    # Then it says plainly that a newer quote replaced it, links to it, and offers no answer
    body = text(page)
    assert page.status_code == 409
    assert "This quote was replaced" in body
    assert "Acme Plumbing sent you a newer quote for Replace water heater" in body
    assert f'href="{token_b}"' in body
    assert 'class="approve"' not in body and 'class="decline"' not in body
    assert "1,000.00" not in body  # none of the old prices

    # When they post A's approve form anyway (a page left open)
    answer = post_form(
        owner,
        f"/p/quotes/{token_a}/approve",
        {"option_id": quote_a["options"][0]["id"], "signed_by": "Dana"},
    )

    # Then they are back on the page that says it was replaced, and nothing was approved
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"../{token_a}"
    assert "QuoteApproved" not in timeline_types(owner, job_id)


def test_the_page_of_an_approval_a_revision_replaced_links_to_the_revision(owner):
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    approve(owner, quote_a, token_a)
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)
    approve(owner, quote_b, token_b)

    body = text(customer_page(owner, f"/p/quotes/{token_a}"))

    assert "This quote was replaced" in body and f'href="{token_b}"' in body


# --- once the final invoice is sent ------------------------------------------------------------


def test_once_the_final_invoice_is_sent_no_quote_can_be_written_sent_or_approved(owner):
    # Given quote A approved, a revision B sent, a draft C, and the final invoice sent (bills A)
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    approve(owner, quote_a, token_a)
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)
    draft_c = a_quote(owner, job_id, 120_000)
    final = invoice(owner, job_id, kind="final")
    assert final["total_cents"] == 100_000

    # When the office writes or sends a quote, or the customer approves the revision
    written = owner.post(
        f"/jobs/{job_id}/quotes", {"options": [{"name": "More", "line_items": work(5_000)}]}
    )
    sent = owner.post(f"/jobs/{job_id}/quotes/{draft_c['id']}/send")
    approved = approve(owner, quote_b, token_b)
    by_page = post_form(
        owner,
        f"/p/quotes/{token_b}/approve",
        {"option_id": quote_b["options"][0]["id"], "signed_by": "Dana"},
    )

    # Then each is refused: the sent final never changes, more work is a new invoice
    for refused in (written, sent, approved):
        assert refused.status_code == 409, refused.body
        assert refused.data["error"]["code"] == "illegal_transition"
        assert refused.data["error"]["message"] == (
            "the job is invoiced: bill more work on a new invoice"
        )
    assert by_page.headers["Location"] == f"../{token_b}?error=invoiced"
    assert "already been invoiced" in text(
        customer_page(owner, f"/p/quotes/{token_b}?error=invoiced")
    )
    # And A is still the scope
    assert quote_now(owner, job_id, quote_a)["status"] == "approved"
    assert quote_now(owner, job_id, quote_b)["status"] == "sent"
    # But the customer may still decline the revision
    declined = customer(owner).post(f"/public/quotes/{token_b}/decline", {})
    assert declined.status_code == 200, declined.body


def test_a_draft_final_invoice_does_not_stop_a_revision(owner):
    # Given quote A approved and a draft final invoice
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    approve(owner, quote_a, token_a)
    invoice(owner, job_id, kind="final", send=False)

    # When a revision B is sent and approved
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)
    approved = approve(owner, quote_b, token_b)

    # Then it is the job's quote (the draft final is re-priced by the billing rules)
    assert approved.status_code == 200, approved.body
    assert quote_now(owner, job_id, quote_a)["status"] == "superseded"


# --- races -------------------------------------------------------------------------------------


def released_together(*actions):
    """Run each action in its own thread, released at once; each outcome is its result
    or the error code it was refused with."""
    from chalicelib.domain.errors import FieldlineError

    barrier = threading.Barrier(len(actions))

    def run(action):
        barrier.wait()
        try:
            return action()
        except FieldlineError as refused:
            return refused.code

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def office_of(owner: Api):
    from chalicelib.domain.callers import Caller

    return Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")


def live_approvals(owner: Api, job_id: str, *quotes: dict) -> list[str]:
    return [q["id"] for q in quotes if quote_now(owner, job_id, q)["status"] == "approved"]


@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_approving_a_quote_while_its_revision_is_sent_leaves_one_scope_either_way(owner, round_):
    from chalicelib.services import quotes

    # Given quote A sent and a revision B written
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    quote_b = a_quote(owner, job_id, 150_000)

    # When the customer approves A as the office sends B
    approved_a, sent_b = released_together(
        lambda: quotes.approve(token_a, quote_a["options"][0]["id"], "Dana")["status"],
        lambda: quotes.send(office_of(owner), job_id, quote_b["id"], None)["status"],
    )

    # Then B is sent; A is approved (B is a revision) or refused as superseded
    assert sent_b == "sent"
    assert approved_a in ("approved", "quote_superseded")
    assert live_approvals(owner, job_id, quote_a, quote_b) == (
        [quote_a["id"]] if approved_a == "approved" else []
    )

    # And once the customer approves B, B alone is the scope, whichever came first
    token_b = token_of(quote_now(owner, job_id, quote_b)["link"])
    assert approve(owner, quote_b, token_b).status_code == 200
    assert live_approvals(owner, job_id, quote_a, quote_b) == [quote_b["id"]]
    assert quote_now(owner, job_id, quote_a)["superseded_by"] == quote_b["id"]
    assert final_total(owner, job_id) == 150_000


@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_approving_a_replaced_quote_and_its_replacement_at_once_approves_only_the_newer(
    owner, round_
):
    from chalicelib.services import quotes

    # Given quote A sent, then quote B sent (which replaced A)
    job_id = new_job(owner)["id"]
    quote_a, token_a = a_sent_quote(owner, job_id, 100_000)
    quote_b, token_b = a_sent_quote(owner, job_id, 150_000)

    # When the customer approves both links at once
    outcomes = released_together(
        lambda: quotes.approve(token_a, quote_a["options"][0]["id"], "Dana")["status"],
        lambda: quotes.approve(token_b, quote_b["options"][0]["id"], "Dana")["status"],
    )

    # Then only B is approved
    assert outcomes == ["quote_superseded", "approved"]
    assert live_approvals(owner, job_id, quote_a, quote_b) == [quote_b["id"]]


@pytest.mark.parametrize("round_", range(RACE_ROUNDS))
def test_two_revisions_sent_at_once_leave_one_live_link(owner, round_):
    from chalicelib.services import quotes

    # Given quote A sent, and two drafts B and C
    job_id = new_job(owner)["id"]
    quote_a, _ = a_sent_quote(owner, job_id, 100_000)
    quote_b, quote_c = a_quote(owner, job_id, 150_000), a_quote(owner, job_id, 160_000)

    # When two offices send B and C at the same moment
    outcomes = released_together(
        lambda: quotes.send(office_of(owner), job_id, quote_b["id"], None)["status"],
        lambda: quotes.send(office_of(owner), job_id, quote_c["id"], None)["status"],
    )

    # Then C is sent; B was sent and replaced by C, or refused as already replaced
    assert outcomes[1] == "sent"
    assert outcomes[0] in ("sent", "illegal_transition")
    statuses = [quote_now(owner, job_id, q)["status"] for q in (quote_a, quote_b, quote_c)]
    assert statuses == ["superseded", "superseded", "sent"]
