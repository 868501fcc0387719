"""Re-planning a day that has started: work under way stays pinned, a sick technician's visits
and a new emergency move, nothing else changes technician, and applying texts the customers
whose time moved by more than the tenant's threshold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.domain import clock
from chalicelib.domain.ids import new_id
from chalicelib.domain.routing import haversine_km
from chalicelib.services import planning, proposals
from chalicelib.services.proposals import Proposal, ProposedRoute, ProposedStop
from chalicelib.store import proposals as proposal_store
from tests.integration.helpers import CUSTOMER
from tests.integration.test_dispatch import (
    DAY,
    EVANSTON,
    FAST,
    WEST_LOOP,
    _optimize,
    _technician,
    _until_finished,
    _visit,
    at,
)

NEW_TIME_TEXT = "has a new time for your visit"
# Around the West Loop: a few blocks apart.
NEAR = [{"lat": 41.8868 + 0.004 * n, "lng": -87.6597 + 0.003 * n} for n in range(6)]


def _job(owner, where, phone, priority="normal"):
    address = {**CUSTOMER["address"], **where}
    customer = {**CUSTOMER, "name": f"Customer {phone[-4:]}", "phone": phone, "address": address}
    body = {"customer": customer, "title": "Boiler service", "priority": priority}
    response = owner.post("/leads", body)
    assert response.status_code == 201, response.body
    return response.data


def _texts(owner, phone):
    e164 = "+1" + "".join(ch for ch in phone if ch.isdigit())
    items = owner.get(f"/dev/outbox?to={e164}").data["items"]
    return [item["body"] for item in items if NEW_TIME_TEXT in item["body"]]


def _set_status(owner, job, visit, *statuses):
    for status in statuses:
        path = f"/jobs/{job['id']}/visits/{visit['id']}/status"
        assert owner.post(path, {"status": status}).status_code == 200


def test_a_replan_pins_work_under_way_moves_what_it_must_and_texts_moved_customers(owner):
    # Given a day under way at 10:00: Sam on site at a West Loop visit with another at 13:00,
    # Kim booked at 11:00 and 14:00 (Kim goes home sick), Eli in Evanston at 11:30, and a new
    # emergency in the West Loop that must be seen by noon
    sam = _technician(owner, "Sam Ortiz", WEST_LOOP)
    kim = _technician(owner, "Kim Lee", WEST_LOOP)
    eli = _technician(owner, "Eli Watts", EVANSTON)
    phones = {name: f"(312) 555-02{n:02d}" for n, name in enumerate("ABCDEF")}
    jobs = {
        "A": _job(owner, NEAR[0], phones["A"]),
        "B": _job(owner, NEAR[1], phones["B"]),
        "C": _job(owner, NEAR[2], phones["C"]),
        "D": _job(owner, NEAR[3], phones["D"]),
        "E": _job(owner, EVANSTON, phones["E"]),
        "F": _job(owner, NEAR[4], phones["F"], priority="emergency"),
    }

    def booked(name, tech, start, window=("08:00", "17:00")):
        body = {
            "window_start": at(window[0]),
            "window_end": at(window[1]),
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
            "start": at(start),
        }
        response = owner.post(f"/jobs/{jobs[name]['id']}/visits", body)
        assert response.status_code == 201, response.body
        return response.data

    visits = {
        "A": booked("A", sam, "09:00"),
        "B": booked("B", sam, "13:00", ("12:00", "17:00")),
        "C": booked("C", kim, "11:00", ("10:00", "17:00")),
        "D": booked("D", kim, "14:00", ("13:00", "17:00")),
        "E": booked("E", eli, "11:30", ("11:00", "16:00")),
        "F": _visit(owner, jobs["F"], "10:00", "13:00"),
    }
    _set_status(owner, jobs["A"], visits["A"], "en_route", "on_site")
    ids = {name: visit["id"] for name, visit in visits.items()}

    clock.set_clock(lambda: datetime.fromisoformat(at("10:00")).astimezone(UTC))
    try:
        # When the office re-plans the day with Kim unavailable
        body = {"date": DAY, "reason": "Kim went home sick", **FAST}
        body["unavailable_technician_ids"] = [kim["id"]]
        started = owner.post("/dispatch/replan", body)
        assert started.status_code == 202, started.body
        assert started.headers["Location"] == f"/dispatch/optimize/{started.data['id']}"
        proposal = _until_finished(owner, started.data["id"])
        assert proposal["status"] == "done", proposal
        applied = owner.post(f"/dispatch/optimize/{proposal['id']}/apply")
    finally:
        clock.set_clock(None)

    assert (proposal["kind"], proposal["replan_reason"]) == ("replan", "Kim went home sick")
    routes = {r["technician_id"]: r["stops"] for r in proposal["routes"]}
    # Then the visit Sam is at stays first on his route, pinned
    assert (routes[sam["id"]][0]["visit_id"], routes[sam["id"]][0]["pinned"]) == (ids["A"], True)
    # Kim is skipped, and her visits and the emergency are placed with the others
    assert [s["technician_id"] for s in proposal["skipped_technicians"]] == [kim["id"]]
    assert kim["id"] not in routes
    placed = {s["visit_id"]: tech for tech, stops in routes.items() for s in stops}
    assert {placed[ids[n]] for n in "CDF"} <= {sam["id"], eli["id"]}
    assert proposal["unassigned"] == []
    # Only what had to move changed technician: Kim's visits and the new emergency
    changes = {c["visit_id"]: c for c in proposal["changes"]}
    moved = {v for v, c in changes.items() if c["from_technician_id"] != c["to_technician_id"]}
    assert moved == {ids["C"], ids["D"], ids["F"]}
    assert ids["A"] not in changes
    assert changes[ids["C"]]["from_technician_id"] == kim["id"]
    assert changes[ids["F"]]["from_technician_id"] is None

    # And applying books it; the customers whose visit moved more than 30 minutes got a text
    # with the new time, the others none
    assert applied.status_code == 200, applied.body
    late = {
        visit_id
        for visit_id, c in changes.items()
        if c["from_technician_id"]
        and c["to_technician_id"]
        and abs(_t(c["to_start"]) - _t(c["from_start"])) > timedelta(minutes=30)
    }
    assert ids["C"] in late  # 11:00 with Kim; Sam is busy until 11:15 and the emergency first
    assert sorted(applied.data["texted_visit_ids"]) == sorted(late)
    for name, visit_id in ids.items():
        texts = _texts(owner, phones[name])
        assert len(texts) == (visit_id in late), (name, texts)
    new_start = _visit_now(owner, jobs["C"], visits["C"])["start"]
    assert _t(new_start) == _t(changes[ids["C"]]["to_start"])


def test_replan_names_unknown_technicians_and_refuses_a_past_day(owner):
    body = {"date": DAY, "unavailable_technician_ids": ["nobody"]}
    unknown = owner.post("/dispatch/replan", body)
    past = owner.post("/dispatch/replan", {"date": "2020-01-06"})

    assert unknown.status_code == 422, unknown.body
    assert unknown.data["error"]["code"] == "unknown_technician"
    assert past.status_code == 422
    assert past.data["error"]["details"][0]["field"] == "date"


def test_a_plan_of_a_thousand_visits_is_one_stored_item_under_dynamodbs_limit(owner):
    # Given a done proposal for 100 technicians with 10 visits each
    start = datetime(2030, 6, 3, 13, tzinfo=UTC)
    routes = [
        ProposedRoute(
            technician_id=new_id(),
            name=f"Technician {t}",
            stops=[
                ProposedStop(
                    visit_id=new_id(),
                    job_id=new_id(),
                    arrival=start + timedelta(minutes=50 * n),
                    start=start + timedelta(minutes=50 * n + 5),
                    end=start + timedelta(minutes=50 * n + 35),
                    travel_seconds=900 + n,
                )
                for n in range(10)
            ],
            travel_seconds=9000,
            leaves_home=start,
            back_home=start + timedelta(hours=9),
        )
        for t in range(100)
    ]
    moment = clock.now()
    proposal = Proposal(
        proposal_id=new_id(),
        date=start.date(),
        timezone="America/Chicago",
        seed=0,
        time_limit_seconds=60,
        routes=routes,
        visit_versions={s.visit_id: 3 for r in routes for s in r.stops},
        day_versions={r.technician_id: 7 for r in routes},
        created_by="owner",
        created_at=moment,
        expires_at=moment + timedelta(days=1),
    )
    plain = len(proposal.model_dump_json())

    # When it is stored and read back
    proposals.save(owner.tenant_id, proposal)
    item = proposal_store.proposal_item(
        owner.tenant_id, proposal.proposal_id, proposal, proposal.expires_at
    )
    stored = len(json.dumps(item.serialize()))
    again = proposals.load(owner.tenant_id, proposal.proposal_id)

    # Then the item is far under 400 KB although the plan's JSON alone is near it, and reads
    # back whole
    assert plain > 250_000
    assert stored < 150_000, stored
    assert again.routes == routes and again.visit_versions == proposal.visit_versions


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _visit_now(owner, job, visit):
    return owner.get(f"/jobs/{job['id']}/visits/{visit['id']}").data


class CountingRoads:
    """A route calculator stand-in: straight line x 1.4 at 30 km/h, counting the routes."""

    def __init__(self) -> None:
        self.routes_asked = 0

    def routes(self, departures, destinations):
        self.routes_asked += len(departures) * len(destinations)
        return [
            [round(haversine_km(a, b) * 1.4 / 30 * 3600) for b in destinations] for a in departures
        ]


def test_on_road_times_a_day_is_planned_on_few_provider_legs_cached_for_the_next_plan(
    owner, monkeypatch
):
    # Given a tenant on road times (Amazon Location in a deployed stage) and a day to plan
    roads = CountingRoads()
    monkeypatch.setattr(planning, "travel_provider", lambda: roads)
    monkeypatch.setattr(planning, "ROAD_NEIGHBOURS", 1)
    _technician(owner, "Sam Ortiz", WEST_LOOP)
    _technician(owner, "Eli Watts", EVANSTON)
    for n, where in enumerate(NEAR):
        _visit(owner, _job(owner, where, f"(312) 555-03{n:02d}"))

    # When it is optimized twice
    first = _optimize(owner)
    asked_first = roads.routes_asked
    second = _optimize(owner)

    # Then the first plan asked for each place's nearest leg and the legs it drives, not a
    # full matrix, and every visit is placed, on whole minutes; the second asked for nothing
    places = len({(p["lat"], p["lng"]) for p in [WEST_LOOP, EVANSTON, *NEAR]})
    assert 0 < asked_first < places * (places - 1) / 2
    assert roads.routes_asked == asked_first
    for proposal in (first, second):
        assert proposal["unassigned"] == []
        starts = [s["start"] for r in proposal["routes"] for s in r["stops"]]
        assert len(starts) == len(NEAR) and all(_t(s).second == 0 for s in starts)
