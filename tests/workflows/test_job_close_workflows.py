"""Closing a job stops its time-driven work: the reminders of its visits and the dunning of its
unpaid invoices (held until the office resumes it). The ASL runs in moto on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import TABLE
from tests.integration.helpers import new_tenant
from tests.integration.stripe_helpers import invoice, new_job, work
from tests.invariants import assert_invariants, local_reader
from tests.workflows.helpers import given_scheduled_visit, outbox_bodies, texts

MONDAY_0900 = "2025-03-10T09:00:00-05:00"
BUSINESS = "Shut-Off Valve Plumbing"
# Monday 2 June 2025, 10:00 in Chicago: the invoice goes out, due in 14 days (Monday 16 June).
SENT = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def owner(client, moto_endpoint):
    """A tenant whose money, time and timeline must add up once the test is over."""
    tenant = new_tenant(client, name=BUSINESS)  # its own name: the outbox is the session's
    yield tenant
    assert_invariants(local_reader(moto_endpoint, TABLE), tenant.tenant_id)


def _at_ten_chicago(day: int, month: int = 6) -> datetime:
    return datetime(2025, month, day, 15, 0, tzinfo=UTC)  # 10:00 CDT


def _cancel(owner, job: dict) -> None:
    cancelled = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer fixed it"})
    assert cancelled.status_code == 200, cancelled.body


def test_a_visit_of_a_job_cancelled_before_its_reminder_gets_no_text(stage, virtual_time, owner):
    # Given a visit whose reminder is waiting for its time
    job, visit = given_scheduled_visit(owner, MONDAY_0900)
    stage.pump()
    stage.settle()
    # When the office cancels the job, and the reminder's time comes
    _cancel(owner, job)
    stage.run_until_idle()
    # Then the cancelled visit stopped its reminder, and nothing was texted
    [execution] = stage.executions("reminders", visit["id"])
    assert execution["status"] == "ABORTED"
    assert texts(owner, job["id"], "reminder") == []
    assert not any("Furnace tune-up" in b for b in outbox_bodies(BUSINESS))


def test_a_reminder_whose_stop_never_arrived_still_checks_the_visit_before_texting(
    stage, virtual_time, owner
):
    # Given a visit whose reminder is waiting for its time
    job, visit = given_scheduled_visit(owner, MONDAY_0900)
    stage.pump()
    stage.settle()
    [execution] = stage.executions("reminders", visit["id"])
    # When the job is cancelled but its events are late (never delivered to the consumer)
    _cancel(owner, job)
    [remind_at] = virtual_time.waits_of(execution["name"])
    virtual_time.advance_to(remind_at)
    stage.settle()
    # Then the reminder, reading the visit at send time, finds it cancelled and texts nothing
    assert stage.output(execution["executionArn"])["outcome"] == "visit_changed"
    assert texts(owner, job["id"], "reminder") == []
    # And when the late events do arrive, nothing more happens
    stage.run_until_idle()
    assert texts(owner, job["id"], "reminder") == []


def test_a_cancelled_jobs_unpaid_invoice_is_not_chased_until_the_office_resumes_it(
    stage, virtual_time, owner
):
    # Given an invoice of $120 sent today, due 16 June, its dunning waiting for 13 June
    virtual_time.advance_to(SENT)
    job = new_job(owner)
    sent = invoice(owner, job["id"], line_items=work(12000))
    stage.pump()
    stage.settle()
    # When the job is cancelled and the reminders' days come and go
    _cancel(owner, job)
    stage.run_until_idle(until=_at_ten_chicago(20))
    # Then the first step found the reminders held and ended without a text
    [held] = stage.executions("dunning", sent["id"])
    assert held["status"] == "SUCCEEDED"
    assert stage.output(held["executionArn"])["outcome"] == "held"
    assert virtual_time.waits_of(held["name"]) == [_at_ten_chicago(13)]
    assert texts(owner, job["id"], "dunning") == []

    # When the office resumes the reminders on 20 June
    virtual_time.advance_to(_at_ten_chicago(20))
    resumed = owner.post(f"/jobs/{job['id']}/invoices/{sent['id']}/resume-reminders")
    assert resumed.status_code == 200, resumed.body
    stage.run_until_idle()

    # Then a new execution skips the steps that went by (13, 16, 19 June) and texts on 23 and
    # 30 June, then hands the invoice to collections after the last step on 16 July
    [after] = [e for e in stage.executions("dunning", sent["id"]) if e["name"] != held["name"]]
    assert virtual_time.waits_of(after["name"]) == [
        _at_ten_chicago(23),
        _at_ten_chicago(30),
        _at_ten_chicago(16, month=7),
    ]
    assert len(texts(owner, job["id"], "dunning")) == 3
    assert stage.output(after["executionArn"])["outcome"] == "collections"
    told = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]]
    assert told.index("DunningHeld") < told.index("DunningResumed")
