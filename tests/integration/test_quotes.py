"""Quotes over HTTP: the office writes and sends, the customer answers through the texted link."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.errors import Conflict
from tests.integration.helpers import CUSTOMER, Api

# chalicelib.services and chalicelib.store are imported inside tests: the store reads the
# settings when it is imported, which must come after the session's moto server is up.

GOOD_BETTER_BEST = {
    "options": [
        {
            "name": "Good",
            "line_items": [
                {
                    "description": "Cartridge",
                    "quantity": 1,
                    "unit_price_cents": 1999,
                    "taxable": True,
                },
                {
                    "description": "Labour",
                    "quantity": 1,
                    "unit_price_cents": 8500,
                    "taxable": False,
                },
            ],
        },
        {
            "name": "Better",
            "line_items": [
                {
                    "description": "Faucet",
                    "quantity": 1,
                    "unit_price_cents": 14900,
                    "taxable": True,
                },
                {
                    "description": "Labour",
                    "quantity": 2,
                    "unit_price_cents": 8500,
                    "taxable": False,
                },
            ],
        },
        {
            "name": "Best",
            "line_items": [
                {
                    "description": "Faucet",
                    "quantity": 1,
                    "unit_price_cents": 32900,
                    "taxable": True,
                },
                {
                    "description": "Labour",
                    "quantity": 2,
                    "unit_price_cents": 8500,
                    "taxable": False,
                },
            ],
        },
    ],
    "deposit_percent": 25,
    "message": "Thanks for having us out.",
}


def a_lead(owner: Api, title: str = "Leaky faucet") -> str:
    assert owner.patch("/settings", {"tax_rate_bps": 825}).status_code == 200
    customer = owner.post("/customers", CUSTOMER)
    lead = owner.post("/leads", {"customer_id": customer.data["id"], "title": title})
    assert lead.status_code == 201, lead.body
    return lead.data["id"]


def a_quote(owner: Api, job_id: str, **changes) -> dict:
    created = owner.post(f"/jobs/{job_id}/quotes", {**GOOD_BETTER_BEST, **changes})
    assert created.status_code == 201, created.body
    return created.data


def a_sent_quote(owner: Api, **changes) -> tuple[str, dict, str]:
    """A lead with a sent quote: (job id, quote, the token from the customer's link)."""
    job_id = a_lead(owner)
    quote = a_quote(owner, job_id, **changes)
    sent = owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")
    assert sent.status_code == 200, sent.body
    return job_id, sent.data, token_of(sent.data["link"])


def token_of(link: str) -> str:
    return re.search(r"/p/quotes/(\S+)$", link).group(1)


def latest_text(owner: Api) -> str:
    outbox = owner.get("/dev/outbox", headers={}).data["items"]
    return next(m["body"] for m in outbox if m["to"] == "+13125550142")


def timeline_types(owner: Api, job_id: str) -> list[str]:
    return [e["type"] for e in owner.get(f"/jobs/{job_id}/timeline").data["items"]]


def public(owner: Api) -> Api:
    return Api(owner.client, "")


# --- the journey --------------------------------------------------------------------------------


def test_customer_approves_the_better_option_through_the_texted_link(owner):
    # Given a lead and a good / better / best quote at 8.25 % tax with a 25 % deposit
    job_id = a_lead(owner)
    quote = a_quote(owner, job_id)
    assert quote["status"] == "draft"
    assert quote["currency"] == "USD"
    good, better, best = quote["options"]
    assert (good["subtotal_cents"], good["tax_cents"], good["total_cents"]) == (10499, 165, 10664)
    assert (better["tax_cents"], better["total_cents"]) == (1229, 33129)  # 14900 * 8.25 % = 1229.25
    assert better["deposit_cents"] == 8282  # 25 % of 33129 = 8282.25
    assert best["line_items"][0]["tax_cents"] == 2714  # 32900 * 8.25 % = 2714.25

    # When the office sends it
    sent = owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")

    # Then the quote is sent, the job quoted, and the customer has the link by text
    assert sent.status_code == 200, sent.body
    assert sent.data["status"] == "sent"
    link = sent.data["link"]
    assert link.startswith(f"{get_settings().public_base_url}/p/quotes/")
    assert latest_text(owner) == f"Hi Dana, Acme Plumbing sent you a quote for Leaky faucet: {link}"
    assert owner.get(f"/jobs/{job_id}").data["stage"] == "quoted"

    # When the customer opens the link taken from the text
    token = token_of(latest_text(owner))
    customer = public(owner)
    shown = customer.get(f"/public/quotes/{token}")

    # Then they see the business, the job and every option, with no internal ids
    assert shown.status_code == 200, shown.body
    assert shown.data["business_name"] == "Acme Plumbing"
    assert shown.data["job_title"] == "Leaky faucet"
    assert [o["name"] for o in shown.data["options"]] == ["Good", "Better", "Best"]
    assert shown.data["options"][1]["total_cents"] == 33129
    assert shown.data["options"][1]["deposit_cents"] == 8282
    for internal in (job_id, quote["id"], owner.tenant_id, owner.owner_id):
        assert internal not in shown.body.decode()

    # When they approve the better option
    approved = customer.post(
        f"/public/quotes/{token}/approve",
        {"option_id": better["id"], "signed_by": "Dana Whitfield"},
    )

    # Then the quote is approved, the others declined, and the job approved
    assert approved.status_code == 200, approved.body
    assert approved.data["status"] == "approved"
    assert approved.data["approved_option_id"] == better["id"]
    assert [o["status"] for o in approved.data["options"]] == ["declined", "approved", "declined"]
    job = owner.get(f"/jobs/{job_id}").data
    assert job["stage"] == "approved"
    assert job["quote"]["status"] == "approved"
    assert job["quote"]["approved_option_id"] == better["id"]

    # And approving again gives the very same answer
    again = customer.post(
        f"/public/quotes/{token}/approve",
        {"option_id": better["id"], "signed_by": "Dana Whitfield"},
    )
    assert again.status_code == 200
    assert again.data == approved.data

    # And the timeline tells the story, once
    types = timeline_types(owner, job_id)
    assert Counter(types) == Counter(
        {
            "LeadCreated": 1,
            "QuoteCreated": 1,
            "QuoteSent": 1,
            "JobStageChanged": 2,
            "MessageSent": 2,  # the link by text and by email
            "QuoteApproved": 1,
        }
    )
    assert types.index("QuoteCreated") < types.index("QuoteSent") < types.index("MessageSent")
    assert types.index("MessageSent") < types.index("QuoteApproved")
    events = owner.get(f"/jobs/{job_id}/timeline").data["items"]
    signed = next(e for e in events if e["type"] == "QuoteApproved")
    assert signed["actor"] == "customer"
    assert signed["data"]["option_id"] == better["id"]
    assert signed["data"]["signed_by"] == "Dana Whitfield"
    assert signed["data"]["ip"]
    assert signed["data"]["approved_at"]


def test_approving_another_option_after_approval_is_a_conflict(owner):
    # Given a quote the customer approved
    _, quote, token = a_sent_quote(owner)
    good, better, _ = quote["options"]
    customer = public(owner)
    customer.post(f"/public/quotes/{token}/approve", {"option_id": good["id"], "signed_by": "Dana"})

    # When they try to approve another option
    changed = customer.post(
        f"/public/quotes/{token}/approve", {"option_id": better["id"], "signed_by": "Dana"}
    )

    # Then it is refused and nothing changes
    assert changed.status_code == 409
    shown = customer.get(f"/public/quotes/{token}").data
    assert shown["approved_option_id"] == good["id"]


def test_customer_declining_leaves_the_job_for_the_office(owner):
    # Given a sent quote
    job_id, quote, token = a_sent_quote(owner)
    customer = public(owner)

    # When the customer declines it
    declined = customer.post(f"/public/quotes/{token}/decline", {"reason": "Too pricey"})

    # Then the quote is declined, the job stays quoted, and it can no longer be approved
    assert declined.status_code == 200, declined.body
    assert declined.data["status"] == "declined"
    assert owner.get(f"/jobs/{job_id}").data["stage"] == "quoted"
    assert "QuoteDeclined" in timeline_types(owner, job_id)
    late = customer.post(
        f"/public/quotes/{token}/approve",
        {"option_id": quote["options"][0]["id"], "signed_by": "Dana"},
    )
    assert late.status_code == 409


def test_sending_an_answered_quote_is_an_illegal_transition_but_a_sent_one_is_texted_again(owner):
    # Given a sent quote
    job_id, quote, token = a_sent_quote(owner)

    # When the office sends it again
    again = owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")

    # Then the same link goes out again, without a second QuoteSent
    assert again.status_code == 200
    assert again.data["link"] == quote["link"]
    assert latest_text(owner).endswith(quote["link"])
    assert timeline_types(owner, job_id).count("QuoteSent") == 1

    # When the customer approves and the office sends it once more
    public(owner).post(
        f"/public/quotes/{token}/approve",
        {"option_id": quote["options"][0]["id"], "signed_by": "Dana"},
    )
    refused = owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")

    # Then it is refused
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "illegal_transition"


# --- links that do not open -------------------------------------------------------------------


def test_an_altered_or_foreign_link_is_not_found(owner):
    # Given a genuine link
    job_id, quote, token = a_sent_quote(owner)
    body, _, mac = token.partition(".")
    secrets = get_settings().link_secrets
    in_a_year = datetime.now(UTC) + timedelta(days=365)

    def signed(kind: str, object_id: str, expires_at=in_a_year) -> str:
        claims = links.LinkClaims(kind, owner.tenant_id, job_id, object_id, expires_at)
        return links.sign(claims, secrets)

    bad_tokens = {
        "altered signature": f"{body}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        "altered body": f"{body[:-2]}xx.{mac}",
        "signed with another secret": links.sign(
            links.LinkClaims("quote", owner.tenant_id, job_id, quote["id"], in_a_year), "guess"
        ),
        "an invoice link": signed("invoice", quote["id"]),
        "a quote that does not exist": signed("quote", "01nosuchquote"),
        "garbage": "not-a-token",
    }
    customer = public(owner)
    option = {"option_id": quote["options"][0]["id"], "signed_by": "Mallory"}
    for name, bad in bad_tokens.items():
        # When each is opened or used
        shown = customer.get(f"/public/quotes/{bad}")
        approved = customer.post(f"/public/quotes/{bad}/approve", option)
        # Then each is simply not found
        assert shown.status_code == 404, name
        assert approved.status_code == 404, name
        assert approved.data["error"]["code"] == "not_found", name
    assert owner.get(f"/jobs/{job_id}").data["stage"] == "quoted"


def test_an_expired_link_is_not_found_and_cannot_approve(owner):
    # Given a quote that expires in an hour
    expires_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job_id, quote, token = a_sent_quote(owner, expires_at=expires_at)
    customer = public(owner)
    assert customer.get(f"/public/quotes/{token}").status_code == 200

    # When two hours pass
    clock.set_clock(lambda: datetime.now(UTC) + timedelta(hours=2))
    try:
        shown = customer.get(f"/public/quotes/{token}")
        approved = customer.post(
            f"/public/quotes/{token}/approve",
            {"option_id": quote["options"][0]["id"], "signed_by": "Dana"},
        )
    finally:
        clock.set_clock(None)

    # Then the link is gone and the job unchanged
    assert shown.status_code == 404
    assert approved.status_code == 404
    assert owner.get(f"/jobs/{job_id}").data["stage"] == "quoted"


# --- who may do what -----------------------------------------------------------------------------


def test_another_tenants_job_is_not_found(owner, other_owner):
    # Given a job of one tenant
    job_id = a_lead(owner)
    quote = a_quote(owner, job_id)

    # When another tenant tries to quote it or send its quote
    created = other_owner.post(f"/jobs/{job_id}/quotes", GOOD_BETTER_BEST)
    sent = other_owner.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")
    read = other_owner.get(f"/jobs/{job_id}/quotes/{quote['id']}")

    # Then it does not exist for them
    assert (created.status_code, sent.status_code, read.status_code) == (404, 404, 404)


def test_a_technician_may_not_write_or_send_quotes(owner):
    # Given a job with a draft quote
    job_id = a_lead(owner)
    quote = a_quote(owner, job_id)
    technician = owner.as_role("technician", "tech-1")

    # When a technician tries to write or send one
    created = technician.post(f"/jobs/{job_id}/quotes", GOOD_BETTER_BEST)
    sent = technician.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")

    # Then it is forbidden
    assert (created.status_code, sent.status_code) == (403, 403)


def test_the_office_may_write_and_send_quotes(owner):
    job_id = a_lead(owner)
    office = owner.as_role("office", "office-1")
    quote = a_quote(office, job_id)
    assert office.post(f"/jobs/{job_id}/quotes/{quote['id']}/send").status_code == 200


def one_line(**line) -> dict:
    return {"options": [{"name": "x", "line_items": [{"description": "y", **line}]}]}


OUT_OF_LIMITS = {
    "six options": {"options": GOOD_BETTER_BEST["options"] * 2},
    "no options": {"options": []},
    "an option without lines": {"options": [{"name": "Only", "line_items": []}]},
    "101 lines": {
        "options": [
            {"name": "x", "line_items": [{"description": "y", "unit_price_cents": 1}] * 101}
        ]
    },
    "a float price": one_line(unit_price_cents=1.5),
    "a negative price": one_line(unit_price_cents=-1),
    "a price too large": one_line(unit_price_cents=10_000_000_01),
    "no quantity": one_line(unit_price_cents=1, quantity=0),
    "too many": one_line(unit_price_cents=1, quantity=10_001),
    "a deposit over 100 %": {"deposit_percent": 101},
    "expiry in the past": {"expires_at": "2020-01-01T00:00:00Z"},
    "expiry without offset": {"expires_at": "2999-01-01T00:00:00"},
    "a field of our own": {"tenant_id": "someone-else"},
}


def test_a_quote_outside_the_limits_is_refused(owner):
    # Given a lead
    job_id = a_lead(owner)
    for name, change in OUT_OF_LIMITS.items():
        # When a quote breaks one limit
        refused = owner.post(f"/jobs/{job_id}/quotes", {**GOOD_BETTER_BEST, **change})
        # Then it is refused as invalid
        assert refused.status_code == 422, (name, refused.body)
        assert refused.data["error"]["code"] in ("validation_error", "invalid_quote"), name
    # And nothing was written
    assert timeline_types(owner, job_id) == ["LeadCreated"]


def test_a_closed_job_cannot_be_quoted(owner):
    job_id = a_lead(owner)
    owner.post(f"/jobs/{job_id}/lose", {"reason": "Went with a cousin"})
    refused = owner.post(f"/jobs/{job_id}/quotes", GOOD_BETTER_BEST)
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "illegal_transition"


# --- racing answers -----------------------------------------------------------------------------


@pytest.fixture
def quote_service(client):
    from chalicelib.services import quotes

    return quotes


def a_rival_answer_lands_between_read_and_write(monkeypatch, rival):
    """The first read of the job collection is followed, before its write, by `rival()`."""
    from chalicelib.services import jobs as job_service

    real_load = job_service.load
    raced: list[bool] = []

    def load_then_race(caller, job_id):
        collection = real_load(caller, job_id)
        if not raced:
            raced.append(True)
            rival()
        return collection

    monkeypatch.setattr(job_service, "load", load_then_race)


def test_of_two_racing_approvals_of_different_options_one_wins_and_the_other_is_refused(
    owner, monkeypatch, quote_service
):
    # Given a sent quote, and a rival approval of "Best" that commits between our read and write
    job_id, quote, token = a_sent_quote(owner)
    good, _, best = quote["options"]
    a_rival_answer_lands_between_read_and_write(
        monkeypatch, lambda: quote_service.approve(token, best["id"], "Sam Whitfield")
    )

    # When "Good" is approved on the stale read
    with pytest.raises(Conflict):
        quote_service.approve(token, good["id"], "Dana Whitfield")

    # Then the rival's answer stands, written once
    shown = public(owner).get(f"/public/quotes/{token}").data
    assert shown["approved_option_id"] == best["id"]
    assert shown["signed_by"] == "Sam Whitfield"
    assert timeline_types(owner, job_id).count("QuoteApproved") == 1


def test_of_two_racing_approvals_of_the_same_option_both_get_the_same_result(
    owner, monkeypatch, quote_service
):
    # Given a sent quote, and a rival approval of the same option landing between read and write
    job_id, quote, token = a_sent_quote(owner)
    better = quote["options"][1]
    rival_result: list[dict] = []
    a_rival_answer_lands_between_read_and_write(
        monkeypatch,
        lambda: rival_result.append(quote_service.approve(token, better["id"], "Dana Whitfield")),
    )

    # When the same option is approved on the stale read
    result = quote_service.approve(token, better["id"], "Dana Whitfield")

    # Then both see the same approval, and it was written once
    assert result == rival_result[0]
    assert result["approved_option_id"] == better["id"]
    assert timeline_types(owner, job_id).count("QuoteApproved") == 1
    assert owner.get(f"/jobs/{job_id}").data["stage"] == "approved"
