"""Payment reconciliation: reconciliation.asl.json executed by moto against localstripe."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.integration.stripe_helpers import (
    charge,
    deliver,
    event,
    intent,
    invoice,
    new_job,
    pay_page,
    pay_with_test_card,
    reload,
    stripe_client,
    work,
)


def _history_read_until_now() -> None:
    """The platform account's history was reconciled up to this second (earlier tests'
    payments on the session's localstripe are not this test's business)."""
    from chalicelib.domain.reconciliation import Cursor
    from chalicelib.store import keys
    from chalicelib.store.db import Transaction
    from chalicelib.store.records import get, record

    key = keys.reconciliation_cursor(None)
    stored = get(key, Cursor)
    cursor = Cursor(
        created=int(time.time()),
        updated_at=datetime.now(UTC),
        version=stored.version if stored else None,
    )
    tx = Transaction()
    tx.put(record(key, "reconciliation_cursor", None, cursor), entity=cursor)
    tx.commit()


@pytest.fixture(autouse=True)
def _only_this_tests_account(owner, monkeypatch) -> None:
    """The connected accounts Stripe lists are the platform's and this test's business's (the
    session's other businesses, each with its own account, are not this test's business)."""
    from chalicelib.integrations import reconciliation_stripe

    account = owner.get("/settings").data["stripe_account_id"]
    monkeypatch.setattr(reconciliation_stripe, "connected_accounts", lambda: [account])


def _paid_without_webhook(owner, job_id: str, cents: int, charged_cents: int | None = None):
    """An invoice the customer paid by card; Stripe's webhook never reached us.

    With `charged_cents`, the intent's amount was changed in Stripe before the customer paid.
    """
    sent = invoice(owner, job_id, line_items=work(cents))
    page = pay_page(owner, sent)
    assert page.status_code == 200, page.body
    intent_id = page.data["payment_intent_id"]
    if charged_cents is not None:
        stripe_client().v1.payment_intents.update(intent_id, params={"amount": charged_cents})
    assert pay_with_test_card(intent_id)["status"] == "succeeded"
    return sent, intent_id


def _run(stage) -> dict:
    described = _finish(stage)
    assert described["status"] == "SUCCEEDED", described
    return described


def _finish(stage) -> dict:
    """Run a reconciliation to its end, however it ends."""
    from chalicelib.services import reconciliation

    started = reconciliation.start_now()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = stage.sfn.describe_execution(executionArn=started.execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("reconciliation did not finish")


def _accounts(monkeypatch, connected: list[str], unreadable: set[str | None]) -> None:
    """Stripe knows these connected accounts besides the platform's, and refuses to show the
    balance history of the `unreadable` ones (a revoked connection answers 403)."""
    import stripe

    from chalicelib.integrations import reconciliation_stripe

    real_page = reconciliation_stripe.balance_page

    def balance_page(account, starting_after):
        if account in unreadable:
            raise stripe.PermissionError(f"no access to the account {account}", http_status=403)
        return real_page(account, starting_after)

    monkeypatch.setattr(reconciliation_stripe, "connected_accounts", lambda: list(connected))
    monkeypatch.setattr(reconciliation_stripe, "balance_page", balance_page)


def test_reconciliation_repairs_a_lost_webhook_and_reports_what_disagrees(stage, owner):
    _history_read_until_now()
    job = new_job(owner)
    # Given an invoice of $100 paid by card whose webhook was lost
    lost, lost_intent = _paid_without_webhook(owner, job["id"], 10000)
    # And an invoice of $200 for which Stripe charged $150 (also without a webhook)
    short, _ = _paid_without_webhook(owner, job["id"], 20000, charged_cents=15000)
    # And a charge in our tenant's name, on its account, that no invoice of ours asked for
    stranger = stripe_client().v1.payment_intents.create(
        params={
            "amount": 777,
            "currency": "usd",
            "payment_method_types": ["card"],
            "metadata": {"tenant_id": owner.tenant_id},
        },
        options={"stripe_account": owner.get("/settings").data["stripe_account_id"]},
    )
    pay_with_test_card(stranger.id)
    stage.mismatches()  # only this run's announcements count

    # When the nightly reconciliation runs
    _run(stage)

    # Then the lost payment is applied: the invoice is paid, once
    repaired = reload(owner, lost)
    assert repaired["status"] == "paid" and repaired["amount_paid_cents"] == 10000
    # And the short charge is applied for what Stripe actually took
    assert reload(owner, short)["amount_paid_cents"] == 15000
    # And the day's report shows both repairs, the amount mismatch and the unknown charge
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    report = owner.get(f"/reports/reconciliation?date={today}")
    assert report.status_code == 200, report.body
    assert report.data["matched_count"] == 2
    assert report.data["matched_amounts"] == [{"currency": "USD", "amount_cents": 25000}]
    assert {r["invoice_id"] for r in report.data["repaired"]} == {lost["id"], short["id"]}
    kinds = {m["kind"]: m for m in report.data["mismatches"]}
    assert set(kinds) == {"amount_mismatch", "unknown_charge"}
    assert kinds["amount_mismatch"]["invoice_id"] == short["id"]
    assert (
        kinds["amount_mismatch"]["expected_cents"],
        kinds["amount_mismatch"]["actual_cents"],
    ) == (
        20000,
        15000,
    )
    assert kinds["unknown_charge"]["payment_intent_id"] == stranger.id
    assert kinds["unknown_charge"]["amount_cents"] == 777
    # And each mismatch was announced on the bus
    announced = [m for m in stage.mismatches() if m["tenant_id"] == owner.tenant_id]
    assert sorted(m["kind"] for m in announced) == ["amount_mismatch", "unknown_charge"]

    # When the lost webhook finally arrives, and reconciliation runs again
    late = deliver(owner, event("payment_intent.succeeded", intent(lost_intent)))
    assert late.status_code == 200, late.body
    _history_read_until_now()
    _run(stage)
    # Then the invoice is still paid once, and nothing is announced twice
    assert reload(owner, lost)["amount_paid_cents"] == 10000
    assert [m for m in stage.mismatches() if m["tenant_id"] == owner.tenant_id] == []


def test_the_reconciliation_report_is_for_the_office(owner):
    technician = owner.as_role("technician", "tech-1")
    assert technician.get("/reports/reconciliation?date=2025-06-02").status_code == 403
    assert owner.get("/reports/reconciliation?date=June").status_code == 422
    empty = owner.get("/reports/reconciliation?date=2025-06-02")
    assert empty.status_code == 200
    assert empty.data["transaction_count"] == 0 and empty.data["mismatches"] == []


def test_a_refund_made_in_stripe_that_we_never_recorded_is_repaired_once(stage, owner):
    _history_read_until_now()
    job = new_job(owner)
    # Given a $50 card payment whose webhook did arrive
    sent, intent_id = _paid_without_webhook(owner, job["id"], 5000)
    assert deliver(owner, event("payment_intent.succeeded", intent(intent_id))).status_code == 200
    # And $20 of it refunded in Stripe's dashboard, whose webhook was lost
    refund = stripe_client().v1.refunds.create(params={"payment_intent": intent_id, "amount": 2000})
    # When reconciliation runs
    _run(stage)
    # Then the refund is recorded, as its webhook would have, and reported as repaired
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    report = owner.get(f"/reports/reconciliation?date={today}").data
    assert report["mismatches"] == []
    assert any(entry.get("refund_id") == refund.id for entry in report["repaired"]), report
    # And the lost webhook arriving after all changes nothing: the refund counts once
    late = event(
        "charge.refunded", {**charge(refund.charge), "refunds": {"data": [refund.to_dict()]}}
    )
    assert deliver(owner, late).data["outcome"] == "unchanged"
    shown = reload(owner, sent)
    assert (shown["refunded_cents"], shown["balance_cents"]) == (2000, 2000)
    [payment] = shown["payments"]
    assert [r["stripe_refund_id"] for r in payment["refunds"]] == [refund.id]


def test_a_payout_is_recorded_with_the_payments_it_paid_out(stage, owner, monkeypatch):
    from chalicelib.domain.invoices import Payment
    from chalicelib.integrations import reconciliation_stripe
    from chalicelib.services import reconciliation
    from chalicelib.store import invoices as invoice_store
    from chalicelib.store.db import Transaction

    # Given a card payment of ours (its intent id is all Stripe and we share)
    job = new_job(owner)
    sent = invoice(owner, job["id"], line_items=work(5000))
    now = datetime.now(UTC)
    payment = Payment(
        payment_id=f"pay-{time.time_ns()}",
        job_id=job["id"],
        invoice_id=sent["id"],
        method="card",
        amount_cents=5000,
        currency="USD",
        status="succeeded",
        recorded_by="stripe",
        stripe_payment_intent_id=f"pi_payout_{time.time_ns()}",
        created_at=now,
        updated_at=now,
    )
    tx = Transaction()
    tx.put(invoice_store.payment_item(owner.tenant_id, payment), entity=payment)
    tx.commit()
    # And a Stripe that paid it out (localstripe makes no payout transactions: stand in for it)
    created = int(now.timestamp())
    payout = {
        "id": "txn_payout_1",
        "type": "payout",
        "source": "po_1",
        "amount": -5000,
        "currency": "usd",
        "created": created,
        "available_on": created + 86400,
    }
    inside = {
        "id": "txn_charge_1",
        "type": "charge",
        "created": created - 60,
        "source": {"id": "ch_1", "payment_intent": payment.stripe_payment_intent_id},
    }
    page = reconciliation_stripe.BalancePage([payout], has_more=False)
    monkeypatch.setattr(reconciliation_stripe, "balance_page", lambda account, after: page)
    monkeypatch.setattr(reconciliation_stripe, "payout_transactions", lambda po, account: [inside])
    # When reconciliation reads that page
    read = reconciliation.read_page({"run_id": "payout-test", "account": None, "cursor": created})
    assert read["has_more"] is False
    # Then the day's report lists the payout with our payment in it
    day = datetime.fromtimestamp(created, ZoneInfo("America/Chicago")).date().isoformat()
    report = owner.get(f"/reports/reconciliation?date={day}").data
    arrival = datetime.fromtimestamp(created + 86400, ZoneInfo("America/Chicago")).date()
    assert report["payouts"] == [
        {
            "payout_id": "po_1",
            "amount_cents": 5000,
            "currency": "USD",
            "arrival_date": arrival.isoformat(),
            "payment_ids": [payment.payment_id],
        }
    ]


def test_a_page_comes_with_its_charges_so_no_charge_is_read_on_its_own(stage, owner, monkeypatch):
    from chalicelib.integrations import reconciliation_stripe

    _history_read_until_now()
    job = new_job(owner)
    # Given two card payments whose webhooks were lost
    first, _ = _paid_without_webhook(owner, job["id"], 4000)
    second, _ = _paid_without_webhook(owner, job["id"], 6000)
    # And a count of every charge or refund read apart from its page
    read_alone = []
    for name in ("charge", "refund"):
        real = getattr(reconciliation_stripe, name)

        def counted(obj_id, account, real=real):
            read_alone.append(obj_id)
            return real(obj_id, account)

        monkeypatch.setattr(reconciliation_stripe, name, counted)
    # When reconciliation runs
    _run(stage)
    # Then both payments were repaired from the page's expanded charges alone
    assert reload(owner, first)["status"] == "paid"
    assert reload(owner, second)["status"] == "paid"
    assert read_alone == []


def test_a_task_out_of_time_leaves_the_rest_to_the_next_one(stage, owner, monkeypatch):
    from chalicelib.services import reconciliation

    _history_read_until_now()
    job = new_job(owner)
    # Given three payments whose webhooks were lost
    lost = [_paid_without_webhook(owner, job["id"], cents)[0] for cents in (1000, 2000, 3000)]
    # And tasks whose time is up as soon as they have taken one transaction
    monkeypatch.setattr(reconciliation, "TASK_BUDGET_SECONDS", 0.0)
    tasks = []
    real_read = reconciliation.read_page

    ours = owner.get("/settings").data["stripe_account_id"]

    def counted(task):
        if task.get("account") == ours:
            tasks.append(task.get("starting_after"))
        return real_read(task)

    monkeypatch.setattr(reconciliation, "read_page", counted)
    # When reconciliation runs
    _run(stage)
    # Then the state machine went round once per transaction of the business's account, each
    # task after the last one's
    assert len(tasks) >= 3 and len(set(tasks)) == len(tasks)
    assert all(reload(owner, bill)["status"] == "paid" for bill in lost)


def test_an_account_that_fails_stops_no_other_and_is_announced(stage, owner, monkeypatch):
    # Given a payment of ours whose webhook was lost, on our business's account
    _history_read_until_now()
    lost, _ = _paid_without_webhook(owner, new_job(owner)["id"], 2500)
    # And another connected account whose history Stripe refuses to show
    ours = owner.get("/settings").data["stripe_account_id"]
    _accounts(monkeypatch, [ours, "acct_revoked"], unreadable={"acct_revoked"})
    stage.failures()
    # When reconciliation runs
    _run(stage)
    # Then our business's account was reconciled all the same
    assert reload(owner, lost)["status"] == "paid"
    # And the failed account was announced on the bus, for the alerts topic
    [failed] = [f for f in stage.failures() if f["data"].get("account") == "acct_revoked"]
    assert (failed["type"], failed["job_id"]) == ("WorkflowFailed", None)
    data = failed["data"]
    assert (data["workflow"], data["state"], data["error"]) == (
        "reconciliation",
        "ReconcilePage",
        "PermissionError",
    )
    assert "acct_revoked" in data["message"]


def test_when_more_than_half_the_accounts_fail_the_run_fails(stage, owner, monkeypatch):
    # Given Stripe refusing every account's history, the platform's included
    _accounts(monkeypatch, ["acct_revoked"], unreadable={None, "acct_revoked"})
    stage.failures()
    # When reconciliation runs
    described = _finish(stage)
    # Then the run failed past its tolerated failures (the stack alarms on failed executions)
    assert (described["status"], described["error"]) == ("FAILED", "WorkflowFailed")
    # And each account's failure, and the run's, were announced
    announced = {
        (f["data"]["state"], f["data"].get("account"), f["data"]["error"]) for f in stage.failures()
    }
    assert announced == {
        ("ReconcilePage", None, "PermissionError"),
        ("ReconcilePage", "acct_revoked", "PermissionError"),
        ("EachAccount", None, "States.ExceedToleratedFailureThreshold"),
    }
