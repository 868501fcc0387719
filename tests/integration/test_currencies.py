"""A business bills in its own currency: texts and pages write amounts as its customers read
them, the pay page's PaymentIntent offers only what Stripe takes in that currency, and a
currency or locale the app cannot bill or write in is refused when it is set."""

from __future__ import annotations

import pytest

from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api
from tests.integration.stripe_helpers import given_work_completed, invoice, new_job, work

CUSTOMER_PHONE = "%2B13125550142"  # helpers.CUSTOMER's phone, E.164


def business(client, currency: str) -> Api:
    created = Api(client, "").post("/dev/tenants", {"name": "Acme", "currency": currency})
    assert created.status_code == 201, created.body
    data = created.data
    return Api(client, data["owner_token"], data["tenant_id"], data["owner_id"])


def final_invoice_sent(owner: Api, amount: int) -> dict:
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    return invoice(owner, job["id"], kind="final", line_items=work(amount))


def pay_page_html(owner: Api, sent: dict) -> str:
    path = "/p/invoices/" + stripe.token_of(sent)
    page = owner.client.http.request("GET", path, headers={})
    assert page.status_code == 200, page.body
    return page.body.decode()


def intent_of(owner: Api, sent: dict) -> dict:
    page = stripe.pay_page(owner, sent)
    assert page.status_code == 200, page.body
    assert page.data["client_secret"], page.data
    return stripe.intent(page.data["payment_intent_id"])


def test_a_yen_business_texts_its_balance_in_whole_yen(client):
    # Given a business billing in yen, and a final invoice of 15,000 yen
    owner = business(client, "JPY")
    sent = final_invoice_sent(owner, 15000)

    # Then the customer's text says ¥15,000, not 150.00 JPY
    text = owner.get(f"/dev/outbox?to={CUSTOMER_PHONE}").data["items"][0]["body"]
    assert "¥15,000" in text, text
    assert "150.00" not in text
    # And the pay page asks for ¥15,000, which Stripe charges as 15000 (yen have no cents)
    assert "Pay ¥15,000" in pay_page_html(owner, sent)
    intent = intent_of(owner, sent)
    assert (intent["amount"], intent["currency"]) == (15000, "jpy")


def test_a_euro_business_gets_a_payment_intent_for_cards_only(client):
    # Given a business billing in euros with a sent invoice of 1,234.56 EUR
    owner = business(client, "EUR")
    sent = final_invoice_sent(owner, 123456)

    # When the customer opens the pay page
    intent = intent_of(owner, sent)

    # Then the intent offers cards only: ACH bank debit is USD-only, and Stripe would refuse
    # the whole intent (cards included) for it
    assert intent["payment_method_types"] == ["card"]
    assert (intent["amount"], intent["currency"]) == (123456, "eur")


def test_a_us_business_billing_in_dollars_also_offers_a_us_bank_account(owner):
    sent = final_invoice_sent(owner, 18000)

    assert intent_of(owner, sent)["payment_method_types"] == ["card", "us_bank_account"]


def test_a_german_business_reads_its_amounts_the_german_way(client):
    # Given a business that bills in euros and writes German
    owner = business(client, "EUR")
    changed = owner.patch("/settings", {"locale": "de-DE"})
    assert changed.status_code == 200, changed.body
    assert (changed.data["currency"], changed.data["locale"]) == ("EUR", "de_DE")

    # When it sends an invoice of 1,234.56 EUR
    sent = final_invoice_sent(owner, 123456)

    # Then the text and the page write 1.234,56 €
    text = owner.get(f"/dev/outbox?to={CUSTOMER_PHONE}").data["items"][0]["body"]
    assert "1.234,56 €" in text, text
    assert "Pay 1.234,56 €" in pay_page_html(owner, sent)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"currency": "XXX"}, "unsupported_currency"),
        ({"currency": "KWD"}, "unsupported_currency"),  # three decimals: not billed in
        ({"currency": None}, "validation_error"),  # a setting null cannot clear
        ({"locale": "xx_YY"}, "invalid_locale"),
        ({"locale": None}, "validation_error"),
    ],
)
def test_a_currency_or_locale_the_app_cannot_use_is_refused_and_nothing_changes(
    owner, change, code
):
    refused = owner.patch("/settings", change)

    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == code
    settings = owner.get("/settings").data
    assert (settings["currency"], settings["locale"]) == ("USD", "en_US")


def test_a_business_cannot_be_created_in_a_currency_the_app_does_not_bill_in(client):
    refused = Api(client, "").post("/dev/tenants", {"name": "Acme", "currency": "XXX"})

    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "unsupported_currency"


# --- the local stage refuses what Stripe refuses ----------------------------------------------


def test_the_local_stage_refuses_a_bank_debit_in_euros_as_stripe_does(localstripe):
    import stripe as sdk

    with pytest.raises(sdk.InvalidRequestError) as refused:
        stripe.stripe_client().v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "eur",
                "payment_method_types": ["card", "us_bank_account"],
            }
        )
    assert refused.value.http_status == 400
    assert "us_bank_account only supports the following currencies: usd" in str(refused.value)


def test_the_local_stage_refuses_an_amount_above_eight_digits_as_stripe_does(localstripe):
    import stripe as sdk

    client = stripe.stripe_client()
    params = {"currency": "usd", "payment_method_types": ["card"]}
    assert client.v1.payment_intents.create(params={**params, "amount": 99_999_999})
    with pytest.raises(sdk.InvalidRequestError) as refused:
        client.v1.payment_intents.create(params={**params, "amount": 100_000_000})
    assert refused.value.code == "amount_too_large"
