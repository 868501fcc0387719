"""Closing a job closes its work (issue 14, case 5): cancel and lose call off the job's open
visits and free their technicians' time, void its draft invoices and hold the reminders of
its unpaid ones, in the same transactions as the stage change; a retry finishes the rest."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial

import pytest

from tests.conftest import TABLE
from tests.integration.helpers import CUSTOMER, Api, new_tenant
from tests.integration.stripe_helpers import invoice, pay_page, work
from tests.invariants import assert_invariants, local_reader

DAY = "2030-06-03"  # a Monday; Chicago is at UTC-5
NINE, ELEVEN = f"{DAY}T09:00:00-05:00", f"{DAY}T11:00:00-05:00"


@pytest.fixture
def owner(client, moto_endpoint):
    """A tenant whose money, time and timeline must add up once the test is over."""
    tenant = new_tenant(client)
    yield tenant
    assert_invariants(local_reader(moto_endpoint, TABLE), tenant.tenant_id)


def _technician(owner: Api, name: str = "Sam Ortiz") -> dict:
    tech = owner.post("/technicians", {"name": name, "phone": "(312) 555-0177"})
    assert tech.status_code == 201, tech.body
    return tech.data


def _job(owner: Api, title: str = "Water heater leaking") -> dict:
    job = owner.post("/leads", {"customer": CUSTOMER, "title": title})
    assert job.status_code == 201, job.body
    return job.data


def _visit(owner: Api, job: dict, technician_ids: list[str], start: str = NINE) -> dict:
    """A one-hour visit in a two-hour window from `start`, booked when technicians are given."""
    window_end = (datetime.fromisoformat(start) + timedelta(hours=2)).isoformat()
    body = {"window_start": start, "window_end": window_end, "duration_minutes": 60}
    if technician_ids:
        body["technician_ids"] = technician_ids
    visit = owner.post(f"/jobs/{job['id']}/visits", body)
    assert visit.status_code == 201, visit.body
    return visit.data


def _booked_on(owner: Api, technician_id: str, day: str = DAY) -> list[str]:
    """The visits the technician's day lock holds (what double booking is checked against)."""
    from chalicelib.domain.visits import TechDay
    from chalicelib.store import keys
    from chalicelib.store.records import get

    lock = get(keys.tech_day(owner.tenant_id, technician_id, day), TechDay)
    return [b.visit_id for b in lock.bookings] if lock else []


def _timeline(owner: Api, job: dict) -> list[dict]:
    return owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]


def _resume(owner: Api, job: dict, shown_invoice: dict):
    return owner.post(f"/jobs/{job['id']}/invoices/{shown_invoice['id']}/resume-reminders")


def _all_visits(owner, job) -> list[dict]:
    listed = owner.get(f"/jobs/{job['id']}/visits?limit=200")
    assert listed.status_code == 200, listed.body
    return listed.data["items"]


def test_after_cancelling_a_job_its_visit_the_slot_the_draft_and_the_reminders_are_closed(owner):
    # Given a job with a visit booked for Sam at 09:00, a draft invoice and an unpaid sent one
    sam = _technician(owner)
    job = _job(owner)
    visit = _visit(owner, job, [sam["id"]])
    draft = invoice(owner, job["id"], line_items=work(5000), send=False)
    unpaid = invoice(owner, job["id"], line_items=work(12000))
    assert _booked_on(owner, sam["id"]) == [visit["id"]]

    # When the office cancels the job
    cancelled = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer fixed it"})

    # Then the job is cancelled, and so is its visit
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.data["stage"] == "cancelled"
    shown = owner.get(f"/jobs/{job['id']}").data
    [closed_visit] = shown["visits"]
    assert closed_visit["status"] == "cancelled"
    # And Sam's 09:00 is free: another job books him then
    assert _booked_on(owner, sam["id"]) == []
    other = _visit(owner, _job(owner, "Dripping tap"), [sam["id"]])
    assert other["status"] == "scheduled"
    # And the draft invoice is void, the sent one still owed and payable through its link
    invoices = {i["invoice_id"]: i for i in shown["invoices"]}
    assert invoices[draft["id"]]["status"] == "void"
    assert invoices[unpaid["id"]]["status"] == "sent"
    assert pay_page(owner, unpaid).status_code == 200
    # And the timeline tells it: the stage, the visit, the void and the held reminders
    events = {e["type"]: e["data"] for e in _timeline(owner, job)}
    assert events["JobStageChanged"]["stage"] == "cancelled"
    assert events["VisitCancelled"] == {
        "visit_id": visit["id"],
        "reason": "customer fixed it",
        "cause": "job_cancelled",
    }
    assert events["InvoiceVoided"]["invoice_id"] == draft["id"]
    assert events["DunningHeld"] == {
        "invoice_id": unpaid["id"],
        "number": unpaid["number"],
        "reason": "job_cancelled",
    }

    # When the office resumes the reminders of the unpaid invoice
    resumed = _resume(owner, job, unpaid)

    # Then they go on, told on the timeline; resuming again is refused, nothing being held
    assert resumed.status_code == 200, resumed.body
    assert resumed.data["hold_reason"] == "job_cancelled"
    assert resumed.data["resumed_by"] == owner.owner_id
    assert "DunningResumed" in [e["type"] for e in _timeline(owner, job)]
    again = _resume(owner, job, unpaid)
    assert again.status_code == 409
    assert again.data["error"]["code"] == "illegal_transition"


def test_losing_a_job_closes_its_work_the_same_way(owner):
    # Given a job with a booked visit and an unpaid invoice
    sam = _technician(owner)
    job = _job(owner)
    _visit(owner, job, [sam["id"]])
    unpaid = invoice(owner, job["id"], line_items=work(8000))
    # When the customer goes elsewhere
    lost = owner.post(f"/jobs/{job['id']}/lose", {"reason": "went with a competitor"})
    # Then the visit is cancelled, Sam's day is free and the reminders are held for that reason
    assert lost.status_code == 200, lost.body
    assert [v["status"] for v in owner.get(f"/jobs/{job['id']}").data["visits"]] == ["cancelled"]
    assert _booked_on(owner, sam["id"]) == []
    assert _resume(owner, job, unpaid).data["hold_reason"] == "job_lost"


def test_completed_visits_stay_and_a_no_access_one_gives_its_time_back(owner):
    # Given a job with a completed visit and one where nobody let Sam in, still on his day
    sam = _technician(owner)
    job = _job(owner)
    done = _visit(owner, job, [sam["id"]])
    for status in ("en_route", "on_site", "completed"):
        reported = owner.post(f"/jobs/{job['id']}/visits/{done['id']}/status", {"status": status})
        assert reported.status_code == 200, reported.body
    locked_out = _visit(owner, job, [sam["id"]], start=f"{DAY}T13:00:00-05:00")
    no_access = {"status": "no_access", "note": "gate locked"}
    reported = owner.post(f"/jobs/{job['id']}/visits/{locked_out['id']}/status", no_access)
    assert reported.status_code == 200, reported.body
    # When the job is cancelled
    assert owner.post(f"/jobs/{job['id']}/cancel", {"reason": "sold the house"}).status_code == 200
    # Then the completed visit stays completed (the work happened) and keeps its time, while
    # the no-access one, which could have been booked again, is cancelled and frees its time
    statuses = {v["visit_id"]: v["status"] for v in owner.get(f"/jobs/{job['id']}").data["visits"]}
    assert statuses == {done["id"]: "completed", locked_out["id"]: "cancelled"}
    assert _booked_on(owner, sam["id"]) == [done["id"]]


def test_a_retried_cancel_answers_the_job_and_a_lose_after_it_is_refused(owner):
    job = _job(owner)
    _visit(owner, job, [])
    first = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer fixed it"})
    assert first.status_code == 200, first.body
    # A retry of the same close (its answer was lost, say) is answered with the job, unchanged
    retried = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer fixed it"})
    assert retried.status_code == 200, retried.body
    assert retried.data == first.data
    # A different close is a conflict, and the job keeps its first one
    lost = owner.post(f"/jobs/{job['id']}/lose", {"reason": "too expensive"})
    assert lost.status_code == 409
    assert lost.data["error"]["code"] == "illegal_transition"
    assert owner.get(f"/jobs/{job['id']}").data["closed_reason"] == "customer fixed it"
    assert [e["type"] for e in _timeline(owner, job)].count("JobStageChanged") == 1


def test_a_recurring_job_too_big_for_one_transaction_is_closed_in_full(owner):
    # Given a job with 40 weekday visits booked for Sam (each with its day: 120 writes to undo)
    sam = _technician(owner)
    job = _job(owner, "Grease trap service")
    series = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": NINE,
            "window_end": ELEVEN,
            "duration_minutes": 60,
            "technician_ids": [sam["id"]],
            "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=40",
        },
    )
    assert series.status_code == 201, series.body
    occurrences = series.data["occurrences"]
    # When the job is cancelled
    assert owner.post(f"/jobs/{job['id']}/cancel", {"reason": "contract ended"}).status_code == 200
    # Then every visit is cancelled and none of Sam's 40 days holds anything
    visits = _all_visits(owner, job)
    assert len(visits) == 40 and {v["status"] for v in visits} == {"cancelled"}
    days = {v["start"][:10] for v in occurrences}
    assert all(_booked_on(owner, sam["id"], day) == [] for day in days)


def test_a_cancel_cut_off_between_its_transactions_is_finished_by_its_retry(owner, monkeypatch):
    from chalicelib.domain.errors import Unavailable
    from chalicelib.services import closing

    # Given a job with 40 booked visits, more than one transaction can close
    sam = _technician(owner)
    job = _job(owner, "Grease trap service")
    series = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": NINE,
            "window_end": ELEVEN,
            "duration_minutes": 60,
            "technician_ids": [sam["id"]],
            "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=40",
        },
    )
    assert series.status_code == 201, series.body
    # And storage that fails every transaction after the close's first one
    queue, queued = closing._queue, []

    class Refused:
        def commit(self):
            raise Unavailable("storage is busy; retry shortly", code="storage_unavailable")

    def first_only(*args):
        queued.append(args)
        return queue(*args) if len(queued) == 1 else Refused()

    monkeypatch.setattr(closing, "_queue", first_only)
    # When the office cancels the job
    cut_off = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "contract ended"})
    # Then the answer says to retry, and the job is cancelled with some visits still booked
    assert cut_off.status_code == 503, cut_off.body
    shown = owner.get(f"/jobs/{job['id']}").data
    assert shown["stage"] == "cancelled"
    assert 0 < sum(v["status"] == "scheduled" for v in _all_visits(owner, job)) < 40
    # When storage recovers and the office retries
    monkeypatch.setattr(closing, "_queue", queue)
    retried = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "contract ended"})
    # Then the retry finishes the work: every visit cancelled, every day free
    assert retried.status_code == 200, retried.body
    visits = _all_visits(owner, job)
    assert {v["status"] for v in visits} == {"cancelled"}
    assert all(_booked_on(owner, sam["id"], v["start"][:10]) == [] for v in visits)


# Each round holds the cancel back a little longer after the barrier, so the rounds cover the
# cancel landing first, the assignment landing first, and the two writing at the same moment.
# The outcome is asserted whatever the order; the pauses only vary it.
ROUNDS = 10
HOLD_BACK_SECONDS = 0.004


def _released_together(*calls):
    """Run the calls in threads released at one moment by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_cancel_racing_an_assignment_never_leaves_the_technician_booked(owner):
    """Whatever the order, no visit of the cancelled job holds Sam's day afterwards: the
    assignment either landed first (and the cancel then called the visit off) or is refused."""
    from chalicelib.domain.callers import Caller
    from chalicelib.domain.errors import FieldlineError
    from chalicelib.services import closing, scheduling

    sam = _technician(owner)
    office = Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")

    def cancel(job_id: str, hold_back: float) -> str:
        time.sleep(hold_back)
        return closing.close(office, job_id, "cancelled", "customer fixed it", None).stage

    def assign(job_id: str, visit_id: str) -> str:
        try:
            return scheduling.assign(office, job_id, visit_id, [sam["id"]], None).status
        except FieldlineError as refused:
            return refused.code

    for round_ in range(ROUNDS):
        # Given a job whose visit is not yet given a technician
        job = _job(owner)
        visit = _visit(owner, job, [])

        # When the office cancels the job as dispatch assigns Sam to its visit
        cancelled, assigned = _released_together(
            partial(cancel, job["id"], round_ * HOLD_BACK_SECONDS),
            partial(assign, job["id"], visit["id"]),
        )

        # Then the job is cancelled, its visit too, and Sam's day is free
        assert cancelled == "cancelled"
        assert assigned in ("scheduled", "illegal_transition"), assigned
        [shown] = owner.get(f"/jobs/{job['id']}").data["visits"]
        assert shown["status"] == "cancelled"
        assert _booked_on(owner, sam["id"]) == []
        # And an assignment that went through was told before the cancel that undid it
        told = [
            e["type"] if e["data"].get("stage") != "cancelled" else "Cancelled"
            for e in _timeline(owner, job)
        ]
        if assigned == "scheduled":
            assert told.index("TechnicianAssigned") < told.index("Cancelled")
        else:
            assert "TechnicianAssigned" not in told
