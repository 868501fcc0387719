"""Dispatch: the day board, the technician's day, and planning a day with the optimiser."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.errors import Unavailable
from chalicelib.handlers.optimizer import optimize_day
from chalicelib.integrations import lambdas
from chalicelib.services import dispatch, planning
from tests.integration.helpers import CUSTOMER

# Monday 3 June 2030 in Chicago (CDT, UTC-5); technicians work Mon-Fri 08:00-17:00.
DAY = "2030-06-03"
# Keep the solver quick in tests; small days converge well within it anyway.
FAST = {"time_limit_seconds": 0.3, "seed": 7}
WAIT_SECONDS = 60

# Two sides of town, about 25 km apart: the West Loop and Evanston.
WEST_LOOP = {"lat": 41.8868, "lng": -87.6597}
EVANSTON = {"lat": 42.0451, "lng": -87.6877}


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00-05:00"


def _technician(owner, name, home, skills=()):
    body = {"name": name, "phone": "(312) 555-0177", "skills": list(skills), "home": home}
    response = owner.post("/technicians", body)
    assert response.status_code == 201, response.body
    return response.data


def _job(owner, where=WEST_LOOP, title="Water heater leaking", priority="normal", name=None):
    address = (
        {**CUSTOMER["address"], **where}
        if where
        else {k: v for k, v in CUSTOMER["address"].items() if k not in ("lat", "lng")}
    )
    customer = {**CUSTOMER, "name": name or CUSTOMER["name"], "address": address}
    body = {"customer": customer, "title": title, "priority": priority}
    response = owner.post("/leads", body)
    assert response.status_code == 201, response.body
    return response.data


def _visit(owner, job, start="08:00", end="17:00", minutes=60, **fields):
    body = {"window_start": at(start), "window_end": at(end), "duration_minutes": minutes}
    response = owner.post(f"/jobs/{job['id']}/visits", {**body, **fields})
    assert response.status_code == 201, response.body
    return response.data


def _optimize(owner, **fields):
    """Start optimizing and wait for the proposal its own invocation makes."""
    started = _start(owner, **fields)
    proposal = _until_finished(owner, started["id"])
    assert proposal["status"] == "done", proposal
    return proposal


def _start(owner, **fields):
    response = owner.post("/dispatch/optimize", {"date": DAY, **FAST, **fields})
    assert response.status_code == 202, response.body
    assert response.data["status"] == "running"
    assert response.headers["Location"] == f"/dispatch/optimize/{response.data['id']}"
    return response.data


def _until_finished(owner, proposal_id, while_status="running"):
    """Poll as a client would (the solver, or a big plan's apply, runs on a thread of this
    process, as in the local stage); the bound is far above any test's solve, not a timing
    assertion."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        response = owner.get(f"/dispatch/optimize/{proposal_id}")
        assert response.status_code == 200, response.body
        if response.data["status"] != while_status:
            return response.data
        time.sleep(0.05)
    raise AssertionError(f"proposal {proposal_id} still {while_status} after {WAIT_SECONDS}s")


def _stops(proposal, technician_id):
    route = next(r for r in proposal["routes"] if r["technician_id"] == technician_id)
    return route["stops"]


def _visit_now(owner, job, visit):
    return owner.get(f"/jobs/{job['id']}/visits/{visit['id']}").data


def test_the_board_shows_each_technicians_day_in_order_with_customer_and_job(owner):
    # Given two technicians, one with an afternoon and a morning visit, and an unassigned visit
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    eli = _technician(owner, "Eli Watts", EVANSTON)
    boiler = _job(owner, title="Boiler service", priority="high", name="Ada Byron")
    leak = _job(owner, title="Leak under sink")
    afternoon = _visit(owner, boiler, start="13:00", technician_ids=[sam["id"]])
    morning = _visit(owner, leak, start="09:00", technician_ids=[sam["id"]])
    waiting = _visit(owner, _job(owner, title="Quote a bathroom"))

    # When the office opens the board for that day
    response = owner.get(f"/dispatch/board?date={DAY}")

    # Then Sam's visits come in route order with who, where and what; Eli has none
    assert response.status_code == 200, response.body
    board = response.data
    assert board["timezone"] == "America/Chicago"
    technicians = {t["name"]: t for t in board["technicians"]}
    assert set(technicians) == {"Sam Ortiz", "Eli Watts"}
    assert technicians["Eli Watts"]["visits"] == []
    assert technicians["Sam Ortiz"]["shift"] == {"start": "08:00", "end": "17:00"}
    sams = technicians["Sam Ortiz"]["visits"]
    assert [v["id"] for v in sams] == [morning["id"], afternoon["id"]]
    second = sams[1]
    # 13:00 and 17:00 on the tenant's wall clock (CDT), written in UTC as every time is
    assert second["start"] == "2030-06-03T18:00:00Z"
    assert second["window_end"] == "2030-06-03T22:00:00Z"
    assert second["job"] == {
        "id": boiler["id"],
        "title": "Boiler service",
        "stage": "scheduled",
        "priority": "high",
        "source": None,  # `online_booking` when the customer booked it (test_booking.py)
    }
    assert second["customer"]["name"] == "Ada Byron"
    assert second["customer"]["phone"].startswith("+1312")
    assert second["address"]["line1"] == CUSTOMER["address"]["line1"]
    assert [v["id"] for v in board["unassigned"]] == [waiting["id"]]
    assert board["unassigned"][0]["job"]["title"] == "Quote a bathroom"
    del eli


def test_a_technician_sees_their_own_day_including_visits_shared_with_another(owner):
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    eli = _technician(owner, "Eli Watts", EVANSTON)
    shared = _visit(owner, _job(owner), start="09:00", technician_ids=[sam["id"], eli["id"]])
    _visit(owner, _job(owner), start="13:00", technician_ids=[sam["id"]])

    eli_day = owner.as_role("technician", eli["id"]).get(f"/me/visits?date={DAY}")

    assert eli_day.status_code == 200, eli_day.body
    assert eli_day.data["technician"] == {"id": eli["id"], "name": "Eli Watts"}
    assert [v["id"] for v in eli_day.data["visits"]] == [shared["id"]]
    assert eli_day.data["visits"][0]["job"]["title"] == "Water heater leaking"
    # The office uses the board; technicians have only their own day
    assert owner.get(f"/me/visits?date={DAY}").status_code == 403
    assert (
        owner.as_role("technician", eli["id"]).get(f"/dispatch/board?date={DAY}").status_code == 403
    )


def test_optimizing_respects_skills_and_windows_and_apply_books_the_plan(owner):
    # Given a gas fitter in Evanston, a general plumber in the West Loop, and three visits
    gas = _technician(owner, "Gail Gas", EVANSTON, skills=["gas"])
    plumber = _technician(owner, "Sam Ortiz", WEST_LOOP)
    boiler_job = _job(owner, WEST_LOOP, title="Boiler", priority="high")
    boiler = _visit(owner, boiler_job, required_skills=["gas"])
    near_job = _job(owner, EVANSTON, title="Tap")
    near = _visit(owner, near_job, start="14:00", end="16:00")
    sink_job = _job(owner, WEST_LOOP, title="Sink")
    sink = _visit(owner, sink_job, start="10:00", end="11:30", minutes=45)

    # When the office optimizes the day
    proposal = _optimize(owner)

    # Then the gas visit goes to the gas fitter, everything is placed inside its window
    assert proposal["unassigned"] == []
    placed = {
        s["visit_id"]: (r["technician_id"], s) for r in proposal["routes"] for s in r["stops"]
    }
    assert set(placed) == {boiler["id"], near["id"], sink["id"]}
    assert placed[boiler["id"]][0] == gas["id"]
    for visit in (boiler, near, sink):
        stop = placed[visit["id"]][1]
        assert _t(visit["window_start"]) <= _t(stop["start"])
        assert _t(stop["end"]) <= _t(visit["window_end"])
        assert stop["start"].endswith("Z") and _t(stop["arrival"]) <= _t(stop["start"])
    assert proposal["total_travel_seconds"] == sum(r["travel_seconds"] for r in proposal["routes"])
    # And nothing is booked yet
    assert _visit_now(owner, boiler_job, boiler)["status"] == "unscheduled"

    # When the office applies it
    applied = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")

    # Then each visit is scheduled with its technician at the proposed start
    assert applied.status_code == 200, applied.body
    assert {s["visit_id"] for s in applied.data["steps"]} == set(placed)
    for visit, job in ((boiler, boiler_job), (near, near_job), (sink, sink_job)):
        now = _visit_now(owner, job, visit)
        technician_id, stop = placed[visit["id"]]
        assert now["status"] == "scheduled"
        assert now["technician_ids"] == [technician_id]
        assert _t(now["start"]) == _t(stop["start"])
    board = owner.get(f"/dispatch/board?date={DAY}").data
    assert board["unassigned"] == []
    assert {t["id"] for t in board["technicians"] if t["visits"]} <= {gas["id"], plumber["id"]}
    # Applying twice is refused
    again = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")
    assert again.status_code == 409 and again.data["error"]["code"] == "proposal_applied"


def test_a_visit_on_site_stays_pinned_first_on_its_technicians_route(owner):
    # Given Sam on site at a morning visit and an open visit elsewhere
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    job = _job(owner, EVANSTON)
    on_site = _visit(owner, job, start="09:00", end="11:00", technician_ids=[sam["id"]])
    path = f"/jobs/{job['id']}/visits/{on_site['id']}/status"
    for status in ("en_route", "on_site"):
        assert owner.post(path, {"status": status}).status_code == 200
    later = _visit(owner, _job(owner, WEST_LOOP), start="08:00", end="17:00")

    # When the day is optimized
    proposal = _optimize(owner)

    # Then Sam's route starts with the visit he is at, not before it was booked, then the other
    stops = _stops(proposal, sam["id"])
    assert [(s["visit_id"], s["pinned"]) for s in stops] == [
        (on_site["id"], True),
        (later["id"], False),
    ]
    assert _t(stops[0]["start"]) >= _t(on_site["start"])
    # The next visit leaves room for the travel buffer after the pinned one
    assert (_t(stops[1]["start"]) - _t(stops[0]["end"])).total_seconds() >= 15 * 60
    applied = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")
    assert applied.status_code == 200, applied.body
    assert [s["visit_id"] for s in applied.data["steps"]] == [later["id"]]


def test_visits_the_plan_cannot_take_are_listed_with_the_reason(owner):
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    nowhere = _visit(owner, _job(owner, where=None, title="No address yet"))
    gas = _visit(owner, _job(owner, title="Gas leak"), required_skills=["gas"])

    proposal = _optimize(owner)

    reasons = {left["visit_id"]: left["reason"] for left in proposal["unassigned"]}
    assert reasons == {nowhere["id"]: "no location", gas["id"]: "no technician has skills gas"}


def test_technicians_without_a_home_are_skipped_with_the_reason(owner):
    owner.post("/technicians", {"name": "Homeless Hal", "phone": "(312) 555-0100"})
    _visit(owner, _job(owner))

    proposal = _optimize(owner)

    assert [(s["name"], s["reason"]) for s in proposal["skipped_technicians"]] == [
        ("Homeless Hal", "no home location")
    ]
    assert proposal["unassigned"][0]["reason"] == "no technician can be planned that day"


def test_applying_after_a_visit_moved_is_409_and_nothing_changes(owner):
    # Given a proposal for two open visits
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    first_job, second_job = _job(owner), _job(owner, EVANSTON)
    first = _visit(owner, first_job)
    second = _visit(owner, second_job)
    proposal = _optimize(owner)
    assert len(_stops(proposal, sam["id"])) == 2

    # When the office moves one of them by hand before applying
    moved = owner.post(
        f"/jobs/{second_job['id']}/visits/{second['id']}/reschedule",
        {"window_start": at("12:00"), "window_end": at("16:00")},
    )
    assert moved.status_code == 200
    refused = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")

    # Then applying is refused naming the visit, and neither visit was booked
    assert refused.status_code == 409, refused.body
    assert refused.data["error"]["code"] == "proposal_stale"
    assert [d.get("visit_id") for d in refused.data["error"]["details"]] == [second["id"]]
    assert _visit_now(owner, first_job, first)["status"] == "unscheduled"
    assert _visit_now(owner, second_job, second)["technician_ids"] == []


def test_applying_after_the_technicians_day_changed_is_409(owner):
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    _visit(owner, _job(owner))
    proposal = _optimize(owner)

    _visit(owner, _job(owner), start="16:00", technician_ids=[sam["id"]])
    refused = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")

    assert refused.status_code == 409
    assert refused.data["error"]["details"][0]["technician_id"] == sam["id"]


def test_apply_swaps_booked_visits_between_technicians_through_the_guard(owner):
    # Given each technician booked at 10:00 on the other side of town from home
    west = _technician(owner, "Wes West", WEST_LOOP)
    north = _technician(owner, "Nora North", EVANSTON)
    west_job, north_job = _job(owner, WEST_LOOP), _job(owner, EVANSTON)
    in_the_west = _visit(owner, west_job, "10:00", "11:00", technician_ids=[north["id"]])
    in_the_north = _visit(owner, north_job, "10:00", "11:00", technician_ids=[west["id"]])

    # When the plan swaps them to save the drive, and is applied
    proposal = _optimize(owner)
    assert [s["visit_id"] for s in _stops(proposal, west["id"])] == [in_the_west["id"]]
    assert [s["visit_id"] for s in _stops(proposal, north["id"])] == [in_the_north["id"]]
    applied = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")

    # Then one visit first gave up its slot, and both end with the nearer technician
    assert applied.status_code == 200, applied.body
    actions = [s["action"] for s in applied.data["steps"]]
    assert actions == ["unassign", "assign", "assign"]
    assert _visit_now(owner, west_job, in_the_west)["technician_ids"] == [west["id"]]
    assert _visit_now(owner, north_job, in_the_north)["technician_ids"] == [north["id"]]


def test_the_day_the_clocks_spring_forward_is_planned_on_the_local_clock(owner):
    # Given a technician working Sundays 08:00-17:00, next to a visit opening at 09:00 on the
    # Sunday Chicago springs forward (10 March 2030: that day has 23 hours)
    body = {
        "name": "Sam Ortiz",
        "phone": "(312) 555-0177",
        "home": WEST_LOOP,
        "shift": {"days": ["sun"], "start": "08:00", "end": "17:00"},
    }
    sam = owner.post("/technicians", body).data
    job = _job(owner, WEST_LOOP)
    window = {
        "window_start": "2030-03-10T09:00:00-05:00",
        "window_end": "2030-03-10T12:00:00-05:00",
    }
    visit = owner.post(f"/jobs/{job['id']}/visits", {**window, "duration_minutes": 60}).data

    # When that day is planned
    proposal = _optimize(owner, date="2030-03-10")

    # Then Sam leaves at 08:00 and starts at 09:00 local time, daylight time already
    route = next(r for r in proposal["routes"] if r["technician_id"] == sam["id"])
    assert _t(route["leaves_home"]) == _t("2030-03-10T08:00:00-05:00")
    assert [(s["visit_id"], _t(s["start"])) for s in route["stops"]] == [
        (visit["id"], _t("2030-03-10T09:00:00-05:00"))
    ]


def test_time_limit_is_capped_at_five_minutes_and_past_days_cannot_be_planned(owner):
    too_long = owner.post("/dispatch/optimize", {"date": DAY, "time_limit_seconds": 301})
    past = owner.post("/dispatch/optimize", {"date": "2020-01-06", "time_limit_seconds": 1})
    stranger = owner.post("/dispatch/optimize", {"date": DAY, "technician_ids": ["nobody"]})

    assert too_long.status_code == 422
    assert too_long.data["error"]["details"][0]["field"] == "time_limit_seconds"
    assert past.status_code == 422
    assert stranger.status_code == 422
    assert stranger.data["error"]["code"] == "unknown_technician"


def test_a_solve_that_fails_is_failed_with_its_reason_and_cannot_be_applied(owner, monkeypatch):
    # Given a day whose travel times cannot be had (Amazon Location refusing every call)
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _visit(owner, _job(owner))
    monkeypatch.setattr(planning, "travel_provider", lambda: NoTravelTimes())

    # When the day is optimized
    started = _start(owner)
    failed = _until_finished(owner, started["id"])

    # Then the proposal says why, has no plan, and applying it is refused
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("travel times are unavailable")
    assert failed["routes"] is None and failed["unassigned"] is None
    refused = owner.post(f"/dispatch/optimize/{started['id']}/apply")
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "proposal_failed"


def test_a_proposal_whose_solve_never_ends_is_failed_at_its_deadline(owner, monkeypatch):
    # Given an optimization whose invocation was lost (Lambda took the event, nothing ran)
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _visit(owner, _job(owner))
    monkeypatch.setattr(lambdas, "invoke_async", lambda function, payload: None)
    started = _start(owner, time_limit_seconds=300)
    path = f"/dispatch/optimize/{started['id']}"
    deadline = datetime.fromisoformat(started["deadline"])
    # 2.5 passes of the limit (priority fallback, a shorter re-solve on road times) + 2 minutes
    assert deadline - datetime.fromisoformat(started["created_at"]) == timedelta(minutes=14.5)
    assert owner.get(path).data["status"] == "running"

    # When its deadline passes
    clock.set_clock(lambda: deadline + timedelta(seconds=1))
    try:
        late = owner.get(path).data
        refused = owner.post(f"{path}/apply")
        # and the lost invocation turns up after all
        delivered = optimize_day({"tenant_id": owner.tenant_id, "proposal_id": started["id"]})
        after = owner.get(path).data
    finally:
        clock.set_clock(None)

    # Then it is failed, for good: nobody waits on it, applying is refused, nothing is solved
    assert (late["status"], late["reason"]) == ("failed", dispatch.TIMED_OUT_REASON)
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "proposal_failed"
    assert delivered["status"] == "failed"
    assert (after["status"], after["routes"]) == ("failed", None)


def test_a_second_delivery_of_the_optimizers_event_changes_nothing(owner):
    # Lambda may deliver an asynchronous event more than once
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _visit(owner, _job(owner))
    proposal = _optimize(owner)

    again = optimize_day({"tenant_id": owner.tenant_id, "proposal_id": proposal["id"]})

    assert again["status"] == "skipped"
    assert owner.get(f"/dispatch/optimize/{proposal['id']}").data == proposal


def test_an_optimizer_lambda_cannot_start_is_a_503_to_retry(owner, monkeypatch):
    monkeypatch.setattr(get_settings(), "optimizer_function", "fieldline-test-no-such-function")

    refused = owner.post("/dispatch/optimize", {"date": DAY, **FAST})

    assert refused.status_code == 503, refused.body
    assert refused.data["error"]["code"] == "function_unavailable"
    assert refused.headers["Retry-After"]


def test_another_tenants_proposal_is_not_found(owner, other_owner):
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _visit(owner, _job(owner))
    proposal = _optimize(owner)

    assert other_owner.get(f"/dispatch/optimize/{proposal['id']}").status_code == 404
    assert other_owner.post(f"/dispatch/optimize/{proposal['id']}/apply").status_code == 404
    assert other_owner.get(f"/dispatch/board?date={DAY}").data["technicians"] == []


class NoTravelTimes:
    def matrix(self, locations):
        raise Unavailable(
            "travel times are unavailable (ThrottlingException); retry shortly",
            code="travel_times_unavailable",
        )


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
