"""Appointment reminders: reminders.asl.json executed by moto, waits on a virtual clock."""

from __future__ import annotations

import json

import pytest

from tests.workflows.helpers import given_scheduled_visit, move, outbox_bodies, texts, utc

# The clocks went forward at 02:00 on Sunday 9 March 2025 in Chicago (CST -6 → CDT -5).
MONDAY_AFTER_DST_0900 = "2025-03-10T09:00:00-05:00"


def _reminders(stage, visit: dict) -> list[dict]:
    return stage.executions("reminders", visit["id"])


@pytest.mark.parametrize(
    ("hours_before", "expected"),
    [
        (24, "2025-03-09T09:00:00-05:00"),  # Sunday 09:00 CDT, after the change: 24 real hours
        (48, "2025-03-08T09:00:00-06:00"),  # Saturday 09:00 CST: 47 real hours, 48 on the wall
    ],
)
def test_the_reminder_for_a_monday_visit_after_the_clocks_change_keeps_the_local_time(
    stage, virtual_time, owner, hours_before, expected
):
    # Given a tenant that reminds customers ahead of their visit
    assert owner.patch("/settings", {"reminder_hours_before": hours_before}).status_code == 200
    # And a visit at 09:00 on the Monday after the clocks went forward
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    # When the scheduling reaches the workflows and time runs on
    stage.run_until_idle()
    # Then the one reminder waited until 09:00 local, that many wall-clock hours before
    [execution] = _reminders(stage, visit)
    assert virtual_time.waits_of(execution["name"]) == [utc(expected)]
    assert stage.output(execution["executionArn"])["outcome"] == "sent"
    # And the customer got one text naming the visit's local window
    [sent] = texts(owner, job["id"], "reminder")
    assert sent["actor"] == "system"
    assert any("Mon Mar 10, 9:00 AM-11:00 AM" in b for b in outbox_bodies("Acme Plumbing"))


def test_a_reminder_that_would_fall_in_quiet_hours_goes_out_before_they_begin(
    stage, virtual_time, owner
):
    # Given a tenant that reminds 10 hours ahead and keeps quiet from 21:00 to 08:00
    settings = {"reminder_hours_before": 10, "quiet_hours": {"start": "21:00", "end": "08:00"}}
    assert owner.patch("/settings", settings).status_code == 200
    # And a visit at 08:00 on Tuesday, whose reminder would be due at 22:00 on Monday
    job, visit = given_scheduled_visit(owner, "2025-03-11T08:00:00-05:00")
    # When time runs on
    stage.run_until_idle()
    # Then the reminder went at 20:59 on Monday, the last minute before quiet hours
    [execution] = _reminders(stage, visit)
    assert virtual_time.waits_of(execution["name"]) == [utc("2025-03-10T20:59:00-05:00")]
    assert len(texts(owner, job["id"], "reminder")) == 1


def test_a_visit_moved_twice_gets_one_reminder_for_its_last_time(stage, virtual_time, owner):
    # Given a visit whose reminder is already waiting
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.pump()
    stage.settle()
    # When the office moves it to Tuesday, then to Wednesday afternoon
    move(owner, job, visit, "2025-03-11T10:00:00-05:00")
    stage.pump()
    stage.settle()
    move(owner, job, visit, "2025-03-12T14:00:00-05:00")
    stage.run_until_idle()
    # Then the earlier reminders were stopped, and only the last one texted
    executions = _reminders(stage, visit)
    assert sorted(e["status"] for e in executions) == ["ABORTED", "ABORTED", "SUCCEEDED"]
    [last] = [e for e in executions if e["status"] == "SUCCEEDED"]
    assert virtual_time.waits_of(last["name"]) == [utc("2025-03-11T14:00:00-05:00")]
    assert len(texts(owner, job["id"], "reminder")) == 1
    assert any("Wed Mar 12, 2:00 PM-4:00 PM" in b for b in outbox_bodies("Acme Plumbing"))


def test_a_cancelled_visit_gets_no_reminder(stage, virtual_time, owner):
    # Given a visit whose reminder is waiting
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.pump()
    stage.settle()
    # When the office cancels the visit and the reminder's time comes
    cancelled = owner.post(
        f"/jobs/{job['id']}/visits/{visit['id']}/cancel", {"reason": "customer away"}
    )
    assert cancelled.status_code == 200, cancelled.body
    stage.run_until_idle()
    # Then the reminder was stopped and nothing was texted
    [execution] = _reminders(stage, visit)
    assert execution["status"] == "ABORTED"
    assert texts(owner, job["id"], "reminder") == []


def test_the_same_event_delivered_twice_starts_one_reminder(stage, virtual_time, owner):
    from chalicelib.handlers import consumer

    # Given a visit just scheduled, whose events the bus has carried to the queue
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.stream.poll()
    # And the VisitScheduled event, as the rule delivers it
    scheduled = next(
        e
        for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]
        if e["type"] == "VisitScheduled"
    )
    detail = {
        "event_id": scheduled["id"],
        "job_id": scheduled["job_id"],
        "type": scheduled["type"],
        "at": scheduled["at"],
        "actor": scheduled["actor"],
        "data": scheduled["data"],
        "tenant_id": owner.tenant_id,
    }
    bus_event = {"source": "fieldline", "detail-type": "VisitScheduled", "detail": detail}
    # When the queue delivers it twice more (at-least-once delivery)
    for _ in range(2):
        stage.sqs.send_message(
            QueueUrl=stage.env["FIELDLINE_WORKFLOW_QUEUE_URL"], MessageBody=json.dumps(bus_event)
        )
    stage.pump()
    stage.settle()
    # Then one execution runs for the visit, and the event counts as handled once
    assert len(_reminders(stage, visit)) == 1
    assert consumer.handle(bus_event) == "duplicate"


def test_another_technician_at_the_same_time_sends_no_second_reminder(stage, virtual_time, owner):
    # Given a visit whose reminder has gone out
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.run_until_idle()
    assert len(texts(owner, job["id"], "reminder")) == 1
    # When the office puts another technician on it, at the same time
    other = owner.post("/technicians", {"name": "Lee Park", "phone": "(312) 555-0178"}).data
    swapped = owner.post(
        f"/jobs/{job['id']}/visits/{visit['id']}/assign", {"technician_ids": [other["id"]]}
    )
    assert swapped.status_code == 200, swapped.body
    stage.run_until_idle()
    # Then the customer, who already knows when we come, is not texted again
    assert len(texts(owner, job["id"], "reminder")) == 1
    assert len(stage.executions("reminders", visit["id"])) == 1


# --- the visit changed after planning, before the consumer heard of it -------------------------


def _reminder_time_comes(stage, virtual_time) -> None:
    """Time reaches the waiting reminder, with nothing delivered to the consumer meanwhile:
    the SendReminder task finds the change before any newer execution could."""
    [moment] = virtual_time.waiting.values()
    virtual_time.advance_to(moment)
    stage.settle()


def test_a_reminder_for_a_cancelled_job_is_not_sent(stage, virtual_time, owner):
    # Given a visit whose reminder is waiting
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.pump()
    stage.settle()
    # When the office cancels the job, and the reminder's time comes before the consumer hears
    cancelled = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer sold the house"})
    assert cancelled.status_code == 200, cancelled.body
    _reminder_time_comes(stage, virtual_time)
    stage.run_until_idle()
    # Then the reminder saw the change and texted nothing
    [execution] = _reminders(stage, visit)
    assert stage.output(execution["executionArn"])["outcome"] == "visit_changed"
    assert texts(owner, job["id"], "reminder") == []


def test_a_reminder_for_a_visit_that_lost_its_technician_is_not_sent(stage, virtual_time, owner):
    from chalicelib.domain.callers import Caller
    from chalicelib.services import scheduling

    # Given a visit whose reminder is waiting
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.pump()
    stage.settle()
    # When dispatch takes it off the technician's day, and the reminder's time comes
    office = Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")
    assert scheduling.unassign(office, job["id"], visit["id"]).status == "unscheduled"
    _reminder_time_comes(stage, virtual_time)
    stage.run_until_idle()
    # Then nothing was texted: the customer is not told "see you tomorrow" for nobody
    [execution] = _reminders(stage, visit)
    assert stage.output(execution["executionArn"])["outcome"] == "visit_changed"
    assert texts(owner, job["id"], "reminder") == []


def test_a_reminder_whose_technicians_changed_is_sent_once_by_the_newer_plan(
    stage, virtual_time, owner
):
    # Given a visit whose reminder is waiting
    job, visit = given_scheduled_visit(owner, MONDAY_AFTER_DST_0900)
    stage.pump()
    stage.settle()
    # When the office puts another technician on it, and the reminder's time comes first
    other = owner.post("/technicians", {"name": "Lee Park", "phone": "(312) 555-0178"}).data
    swapped = owner.post(
        f"/jobs/{job['id']}/visits/{visit['id']}/assign", {"technician_ids": [other["id"]]}
    )
    assert swapped.status_code == 200, swapped.body
    _reminder_time_comes(stage, virtual_time)
    [first] = _reminders(stage, visit)
    assert stage.output(first["executionArn"])["outcome"] == "visit_changed"
    # Then the reminder planned for the new technician sends it, once
    stage.run_until_idle()
    outcomes = [stage.output(e["executionArn"])["outcome"] for e in _reminders(stage, visit)]
    assert sorted(outcomes) == ["sent", "visit_changed"]
    assert len(texts(owner, job["id"], "reminder")) == 1
