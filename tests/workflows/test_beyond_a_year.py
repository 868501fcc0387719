"""Moments more than a Standard execution's year ahead: the execution hands them to an
EventBridge Scheduler one-time schedule, which starts a fresh execution the day before; that one
plans again and waits. (moto has no year limit: the tests assert no execution waits past it.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.integrations.workflows import HORIZON
from tests.integration.stripe_helpers import new_job, work
from tests.workflows.helpers import given_scheduled_visit, move, texts, utc


def test_a_visit_fourteen_months_ahead_is_reminded_by_an_execution_a_schedule_starts(
    stage, virtual_time, owner
):
    # Given a visit booked fourteen months ahead (the reminder: 24 hours before, 09:00 Sunday)
    job, visit = given_scheduled_visit(owner, "2026-05-04T09:00:00-05:00")
    remind_at = utc("2026-05-03T09:00:00-05:00")
    # When its reminder is planned
    stage.pump()
    stage.settle()
    # Then the execution did not wait a year: it left a schedule for the day before and ended
    [first] = stage.executions("reminders", visit["id"])
    assert first["status"] == "SUCCEEDED"
    planned = stage.output(first["executionArn"])
    assert planned["deferred"] is True and "remind_at" not in planned
    assert planned["restart_at"] == "2026-05-02T14:00:00.000Z"
    assert list(stage.schedules.pending().values()) == [remind_at - timedelta(days=1)]
    assert virtual_time.waits_of(first["name"]) == []
    # When time comes to the schedule and past the visit
    stage.run_until_idle()
    # Then the schedule started a fresh execution, which waited for the reminder and texted once
    executions = stage.executions("reminders", visit["id"])
    [second] = [e for e in executions if e["executionArn"] != first["executionArn"]]
    assert virtual_time.waits_of(second["name"]) == [remind_at]
    assert stage.output(second["executionArn"])["outcome"] == "sent"
    assert len(texts(owner, job["id"], "reminder")) == 1
    assert stage.schedules.pending() == {}


def test_a_deferred_reminder_for_a_visit_moved_since_texts_only_for_the_new_time(
    stage, virtual_time, owner
):
    # Given a visit fourteen months ahead, whose reminder is left to a schedule
    job, visit = given_scheduled_visit(owner, "2026-05-04T09:00:00-05:00")
    stage.pump()
    stage.settle()
    assert len(stage.schedules.pending()) == 1
    # When the office moves it to next week
    move(owner, job, visit, "2025-03-12T14:00:00-05:00")
    stage.run_until_idle()
    # Then the new time was reminded of, and the stale schedule's execution texted nothing
    [sent] = texts(owner, job["id"], "reminder")
    assert utc(sent["at"]) == utc("2025-03-11T14:00:00-05:00")
    assert stage.schedules.pending() == {}
    endings = [stage.output(e["executionArn"]) for e in stage.executions("reminders", visit["id"])]
    said = sorted(o.get("outcome") or o.get("reason") or "deferred" for o in endings)
    assert said == ["deferred", "sent", "visit_changed"]


def test_dunning_for_an_invoice_due_in_a_year_runs_its_steps_in_an_execution_started_later(
    stage, virtual_time, owner
):
    # Given an invoice sent today (Monday 2 June 2025), due in 365 days: its first reminder
    # (three days before) is 362 days away, its last (30 days after) 395
    virtual_time.advance_to(datetime(2025, 6, 2, 15, 0, tzinfo=UTC))
    job = new_job(owner)
    created = owner.post(
        f"/jobs/{job['id']}/invoices",
        {"kind": "progress", "line_items": work(12000), "due_days": 365},
    )
    assert created.status_code == 201, created.body
    sent = owner.post(f"/jobs/{job['id']}/invoices/{created.data['id']}/send")
    assert sent.status_code == 200, sent.body
    assert sent.data["due_date"] == "2026-06-02"
    # When time runs on past the last step
    stage.run_until_idle()
    # Then the first execution handed the steps to a later one, which ran all six of them,
    # none more than a year after it began
    executions = stage.executions("dunning", sent.data["id"])
    deferred = [e for e in executions if stage.output(e["executionArn"]).get("deferred")]
    assert len(deferred) == 1 and virtual_time.waits_of(deferred[0]["name"]) == []
    [later] = [e for e in executions if e not in deferred]
    waits = virtual_time.waits_of(later["name"])
    assert waits[0] == datetime(2026, 5, 30, 15, 0, tzinfo=UTC)  # 10:00 Chicago, 3 days before
    assert len(waits) == 6
    finished = stage.output(later["executionArn"])
    began = datetime.fromisoformat(finished["started_at"])
    assert began == waits[0] - timedelta(days=1)
    assert all(wait - began < HORIZON for wait in waits)
    assert finished["outcome"] == "collections"
    assert len(texts(owner, job["id"], "dunning")) == 6
