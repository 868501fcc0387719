"""The invariants checker itself: it passes a journey's data and names each rule broken behind
the app's back (items rewritten straight in the table), so a green check means something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import TABLE
from tests.integration.helpers import new_tenant
from tests.integration.stripe_helpers import given_work_completed, invoice, new_job, work
from tests.invariants import check


@pytest.fixture
def owner(client):
    """A tenant whose data these tests break on purpose (no invariants check afterwards)."""
    return new_tenant(client)


def _rewrite(reader, pk: str, sk: str, **data_changes) -> None:
    """Change fields of an item's `data` map directly, as a buggy writer would."""
    names = {f"#f{i}": name for i, name in enumerate(data_changes)}
    values = {f":v{i}": _attr(value) for i, value in enumerate(data_changes.values())}
    reader.client.update_item(
        TableName=TABLE,
        Key={"PK": {"S": pk}, "SK": {"S": sk}},
        UpdateExpression="SET " + ", ".join(f"#d.{n} = :v{i}" for i, n in enumerate(names)),
        ExpressionAttributeNames={"#d": "data", **names},
        ExpressionAttributeValues=values,
    )


def _attr(value):
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [_attr(v) for v in value]}
    return {"N": str(value)}


def _item(reader, pk: str, sk_prefix: str) -> dict:
    return next(i for i in reader.by_key(pk) if i["SK"].startswith(sk_prefix))


def test_a_paid_journey_keeps_every_invariant(owner, reader):
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    bill = invoice(owner, job["id"], kind="final", line_items=work(10000))
    paid = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 10000},
    )
    assert paid.status_code == 201, paid.body
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "paid"
    assert check(reader, owner.tenant_id) == []


def test_money_that_does_not_add_up_and_a_paid_job_with_an_open_invoice_are_named(owner, reader):
    # Given a job paid in full, then its invoice rewritten behind the app's back
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    bill = invoice(owner, job["id"], kind="final", line_items=work(10000))
    owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 10000},
    )
    pk = f"T#{owner.tenant_id}#JOB#{job['id']}"
    _rewrite(reader, pk, f"INV#{bill['id']}", amount_paid_cents=9000, status="partially_paid")

    problems = check(reader, owner.tenant_id)

    assert any("payments kept 10000 but it records 9000 paid" in p for p in problems), problems
    assert any(f"job {job['id']} is paid but invoice" in p for p in problems), problems
    assert any("is partially_paid but indexed as" in p for p in problems), problems


def test_a_double_booked_technician_and_a_lock_out_of_step_are_named(owner, reader):
    # Given two visits of one technician at different times, then one moved onto the other
    tech = owner.post("/technicians", {"name": "Sam Rivera", "phone": "312-555-0111"}).data
    start = (datetime.now(UTC) + timedelta(days=7)).replace(hour=15, minute=0, microsecond=0)
    while start.weekday() >= 5:
        start += timedelta(days=1)
    visits = []
    for hours in (0, 3):
        job = new_job(owner)
        body = {
            "window_start": (start + timedelta(hours=hours)).isoformat(),
            "window_end": (start + timedelta(hours=hours + 2)).isoformat(),
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        }
        created = owner.post(f"/jobs/{job['id']}/visits", body)
        assert created.status_code == 201, created.body
        visits.append(created.data)
    assert check(reader, owner.tenant_id) == []
    moved = visits[1]
    _rewrite(
        reader,
        f"T#{owner.tenant_id}#JOB#{moved['job_id']}",
        f"VISIT#{moved['id']}",
        start=visits[0]["start"],
    )

    problems = check(reader, owner.tenant_id)

    assert any("holds overlapping visits" in p for p in problems), problems
    assert any(f"visit {moved['id']} holds" in p for p in problems), problems


def test_a_timeline_out_of_order_and_a_payment_told_twice_are_named(owner, reader):
    job = new_job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments", {"method": "cash", "amount_cents": 100}
    )
    pk = f"T#{owner.tenant_id}#JOB#{job['id']}"
    events = [i for i in reader.by_key(pk) if i["SK"].startswith("EVT#")]
    received = next(e for e in events if e["data"]["type"] == "PaymentRecorded")
    first = events[0]
    # The first event claims a time after the last; another event claims the same payment
    _rewrite(reader, pk, first["SK"], at="2999-01-01T00:00:00.000Z")
    _rewrite(reader, pk, events[1]["SK"], type="PaymentRecorded")
    reader.client.update_item(
        TableName=TABLE,
        Key={"PK": {"S": pk}, "SK": {"S": events[1]["SK"]}},
        UpdateExpression="SET #d.#data = :payment",
        ExpressionAttributeNames={"#d": "data", "#data": "data"},
        ExpressionAttributeValues={
            ":payment": {"M": {"payment_id": {"S": received["data"]["data"]["payment_id"]}}}
        },
    )

    problems = check(reader, owner.tenant_id)

    assert any("is keyed at another time" in p for p in problems), problems
    assert any("sorts after a later event" in p for p in problems), problems
    assert any("was received 2 times" in p for p in problems), problems


def test_a_refund_after_the_job_is_paid_leaves_no_paid_job_with_an_open_invoice(owner, reader):
    # A refund reopens the paid job to `invoiced` (chalicelib/domain/ledger.py)
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    bill = invoice(owner, job["id"], kind="final", line_items=work(10000))
    money = f"/jobs/{job['id']}/invoices/{bill['id']}"
    owner.post(f"{money}/payments", {"method": "cash", "amount_cents": 10000})
    refund = owner.post(f"{money}/refunds", {"amount_cents": 1000, "reason": "goodwill"})
    assert refund.status_code == 201, refund.body
    assert check(reader, owner.tenant_id) == []
