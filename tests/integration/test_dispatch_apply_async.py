"""Applying a big proposal off the request path: 202, the proposal `applying`, then `applied`
(or `failed`, resumed by applying again), each change through the double-booking guard.

The threshold is lowered to one change here, so a plan of three visits is "big"; the optimizer's
function runs on a thread of this process (tests/conftest.py), as in the local stage.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.handlers.optimizer import optimize_day
from chalicelib.integrations import lambdas
from chalicelib.services import proposals
from tests.integration.test_dispatch import (
    EVANSTON,
    WEST_LOOP,
    _job,
    _optimize,
    _technician,
    _until_finished,
    _visit,
    _visit_now,
)

CDT = timezone(timedelta(hours=-5))


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(proposals, "ASYNC_APPLY_STEPS", 1)


def _hold_invocations(monkeypatch):
    """The function's invocations are held back: the test delivers each event itself."""
    monkeypatch.setattr(lambdas, "invoke_async", lambda function, payload: None)


def _day_of_three(owner):
    """Two technicians, three open visits, and the plan of them: (plan, {visit_id: job})."""
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _technician(owner, "Nora North", EVANSTON)
    jobs = [_job(owner, WEST_LOOP), _job(owner, WEST_LOOP), _job(owner, EVANSTON)]
    visits = {_visit(owner, job)["id"]: job for job in jobs}
    plan = _optimize(owner)
    assert plan["unassigned"] == []
    return plan, visits


def _placed(plan):
    return {
        stop["visit_id"]: (route["technician_id"], stop)
        for route in plan["routes"]
        for stop in route["stops"]
    }


def _apply(owner, plan):
    response = owner.post(f"/dispatch/optimize/{plan['id']}/apply")
    assert response.status_code == 202, response.body
    assert response.data["status"] == "applying"
    return response.data


def _deliver(owner, plan):
    event = {"tenant_id": owner.tenant_id, "proposal_id": plan["id"], "action": "apply"}
    return optimize_day(event)["status"]


def _assert_booked_as_planned(owner, plan, visits, visit_ids):
    for visit_id in visit_ids:
        technician_id, stop = _placed(plan)[visit_id]
        now = _visit_now(owner, visits[visit_id], {"id": visit_id})
        assert now["status"] == "scheduled"
        assert now["technician_ids"] == [technician_id]
        assert datetime.fromisoformat(now["start"]) == datetime.fromisoformat(stop["start"])


def test_a_big_plan_answers_202_and_is_applied_in_the_background(owner):
    plan, visits = _day_of_three(owner)

    started = _apply(owner, plan)
    assert sorted(started["application"]["visit_ids"]) == sorted(visits)
    done = _until_finished(owner, plan["id"], while_status="applying")

    assert done["status"] == "applied", done
    work = done["application"]
    assert sorted(work["applied_visit_ids"]) == sorted(visits)
    assert (work["skipped"], work["finished_at"] is not None) == ([], True)
    assert done["routes"] == plan["routes"]  # the plan stays readable
    _assert_booked_as_planned(owner, plan, visits, visits)
    again = owner.post(f"/dispatch/optimize/{plan['id']}/apply")
    assert again.status_code == 409 and again.data["error"]["code"] == "proposal_applied"


def test_applying_twice_is_harmless(owner, monkeypatch):
    plan, visits = _day_of_three(owner)
    _hold_invocations(monkeypatch)
    _apply(owner, plan)

    # A second apply while the first is under way is refused
    second = owner.post(f"/dispatch/optimize/{plan['id']}/apply")
    assert second.status_code == 409, second.body
    assert second.data["error"]["code"] == "proposal_applying"
    # Lambda delivers the event twice: the second delivery finds the work done
    assert _deliver(owner, plan) == "applied"
    booked = {v: _visit_now(owner, job, {"id": v})["version"] for v, job in visits.items()}
    assert _deliver(owner, plan) == "skipped"

    assert {v: _visit_now(owner, job, {"id": v})["version"] for v, job in visits.items()} == booked
    assert owner.get(f"/dispatch/optimize/{plan['id']}").data["status"] == "applied"


def test_a_booking_made_meanwhile_is_skipped_with_the_reason(owner, monkeypatch):
    plan, visits = _day_of_three(owner)
    _hold_invocations(monkeypatch)
    _apply(owner, plan)
    # While the apply waits in the queue, the office books another visit into one planned slot
    taken, (technician_id, stop) = next(iter(_placed(plan).items()))
    local_start = datetime.fromisoformat(stop["start"]).astimezone(CDT).strftime("%H:%M")
    _visit(owner, _job(owner), start=local_start, technician_ids=[technician_id])

    assert _deliver(owner, plan) == "applied"

    done = owner.get(f"/dispatch/optimize/{plan['id']}").data
    work = done["application"]
    assert [s["visit_id"] for s in work["skipped"]] == [taken]
    assert work["skipped"][0]["reason"]  # the guard's own words
    assert sorted(work["applied_visit_ids"]) == sorted(set(visits) - {taken})
    _assert_booked_as_planned(owner, plan, visits, work["applied_visit_ids"])
    assert _visit_now(owner, visits[taken], {"id": taken})["technician_ids"] == []


def test_an_apply_that_stopped_part_way_resumes_without_moving_a_visit_twice(owner, monkeypatch):
    plan, visits = _day_of_three(owner)
    _hold_invocations(monkeypatch)
    _apply(owner, plan)
    # The function dies after booking one visit
    book, calls = proposals._book, []

    def dies_on_the_second(caller, step, version):
        calls.append(step.visit_id)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return book(caller, step, version)

    monkeypatch.setattr(proposals, "_book", dies_on_the_second)
    assert _deliver(owner, plan) == "failed"
    monkeypatch.setattr(proposals, "_book", book)
    failed = owner.get(f"/dispatch/optimize/{plan['id']}").data
    assert (failed["status"], failed["reason"]) == ("failed", proposals.APPLY_TIMED_OUT_REASON)
    first = calls[0]
    moved_once = _visit_now(owner, visits[first], {"id": first})["version"]

    # When the office applies it again
    resumed = _apply(owner, plan)
    assert resumed["application"]["attempt"] == 2
    assert _deliver(owner, plan) == "applied"

    # Then every visit is booked, and the one booked before the crash was not booked again
    done = owner.get(f"/dispatch/optimize/{plan['id']}").data
    assert sorted(done["application"]["applied_visit_ids"]) == sorted(visits)
    _assert_booked_as_planned(owner, plan, visits, visits)
    assert _visit_now(owner, visits[first], {"id": first})["version"] == moved_once


def test_a_small_plan_is_still_applied_in_the_request(owner, monkeypatch):
    monkeypatch.setattr(proposals, "ASYNC_APPLY_STEPS", 50)
    plan, visits = _day_of_three(owner)

    applied = owner.post(f"/dispatch/optimize/{plan['id']}/apply")

    assert applied.status_code == 200, applied.body
    assert {s["visit_id"] for s in applied.data["steps"]} == set(visits)
    _assert_booked_as_planned(owner, plan, visits, visits)
    assert owner.get(f"/dispatch/optimize/{plan['id']}").data["status"] == "applied"
