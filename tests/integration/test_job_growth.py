"""A job's cost stays flat as its history grows, and writers to one job don't collide.

Counted, not timed: the DynamoDB calls and items an operation reads on a job with 1 visit and
on one with 500 (and their timelines). Timings are in `python -m bench.growth`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import ddbcalls
from chalicelib.services.jobs import LATEST_NOTES, NEXT_VISITS
from tests.integration.helpers import CUSTOMER

DAY = "2030-06-03"


def _tech(owner, name="Sam Ortiz"):
    created = owner.post(
        "/technicians",
        {
            "name": name,
            "phone": "(312) 555-0177",
            "shift": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "23:59",
            },
        },
    )
    assert created.status_code == 201, created.body
    return created.data


def _job(owner):
    lead = owner.post("/leads", {"customer": CUSTOMER, "title": "Weekly lawn service"})
    assert lead.status_code == 201, lead.body
    return lead.data


def _visit(owner, job, tech, hour: int, day: str = DAY):
    created = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": f"{day}T{hour:02d}:00:00-05:00",
            "window_end": f"{day}T{hour:02d}:30:00-05:00",
            "duration_minutes": 30,
            "technician_ids": [tech["id"]],
        },
    )
    assert created.status_code == 201, created.body
    return created.data


def _grow(owner, job, tech, visits: int) -> None:
    """`visits` more visits (a daily series, 60 at a time) and a note for every ten."""
    for series_number, first in enumerate(range(0, visits, 60)):
        hour = 6 + series_number  # each series at its own hour of the day: no two overlap
        series = owner.post(
            f"/jobs/{job['id']}/visits",
            {
                "window_start": f"2030-07-01T{hour:02d}:00:00-05:00",
                "window_end": f"2030-07-01T{hour:02d}:30:00-05:00",
                "duration_minutes": 30,
                "technician_ids": [tech["id"]],
                "recurrence": f"RRULE:FREQ=DAILY;COUNT={min(60, visits - first)}",
            },
        )
        assert series.status_code == 201, series.body
    for n in range(visits // 10):
        owner.post(f"/jobs/{job['id']}/notes", {"text": f"note {n}"})


def _operations(owner, job, visit):
    path = f"/jobs/{job['id']}"
    return {
        "GET job": lambda: owner.get(path),
        "GET visit": lambda: owner.get(f"{path}/visits/{visit['id']}"),
        "POST note": lambda: owner.post(f"{path}/notes", {"text": "gate code 4411"}),
        "PATCH job": lambda: owner.patch(path, {"priority": "high"}),
        "visit en route": lambda: owner.post(
            f"{path}/visits/{visit['id']}/status", {"status": "en_route"}
        ),
        "GET visits page": lambda: owner.get(f"{path}/visits?limit=20"),
    }


def _measure(operations) -> dict[str, dict[str, int]]:
    measured = {}
    for name, call in operations.items():
        with ddbcalls.counting() as calls:
            response = call()
        assert response.status_code in (200, 201), (name, response.body)
        measured[name] = {**calls, "items read": calls.items_read}
    return measured


@pytest.mark.slow
def test_each_operation_makes_the_same_calls_on_a_job_of_one_visit_and_of_five_hundred(owner):
    tech = _tech(owner)
    small, big = _job(owner), _job(owner)
    small_visit = _visit(owner, small, tech, 8)
    big_visit = _visit(owner, big, tech, 10)
    _grow(owner, big, tech, 500)

    on_small = _measure(_operations(owner, small, small_visit))
    on_big = _measure(_operations(owner, big, big_visit))

    # The same calls everywhere; the same items except where a page is shown, which a page
    # bounds (the next visits and latest notes of the job, a page of 20 visits), each read
    # with one item more, which tells whether another page follows; besides the pages, the
    # job's header and tally and the caller's user (checked on every request: still active?)
    assert _calls(on_big) == _calls(on_small)
    shown = {"GET job": NEXT_VISITS + 1 + LATEST_NOTES + 1 + 3, "GET visits page": 20 + 1 + 3}
    for name, measured in on_big.items():
        bound = shown.get(name, on_small[name]["items read"])
        assert measured["items read"] <= bound, (name, measured, on_small[name])


def _calls(measured: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        name: {op: n for op, n in calls.items() if op != "items read"}
        for name, calls in measured.items()
    }


def _office(owner):
    from chalicelib.domain.callers import Caller

    return Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")


def _together(calls):
    """Run the calls at the same moment (services directly: the test client is one request at
    a time); each answer is its result or its error code."""
    from chalicelib.domain.errors import FieldlineError

    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        try:
            return call()
        except FieldlineError as refused:
            return refused.code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_technicians_changing_two_visits_of_one_job_at_once_both_succeed(owner):
    from chalicelib.services import scheduling

    sam, eli = _tech(owner), _tech(owner, "Eli Watts")
    job = _job(owner)
    first, second = _visit(owner, job, sam, 9), _visit(owner, job, eli, 9)
    office = _office(owner)

    def en_route(visit):
        return lambda: scheduling.report_status(office, job["id"], visit["id"], "en_route")

    answers = _together([en_route(first), en_route(second)])

    assert [a.status for a in answers] == ["en_route", "en_route"], answers


def test_ten_notes_posted_at_once_are_ten_notes(owner):
    from chalicelib.services import jobs

    job = _job(owner)
    office = _office(owner)
    answers = _together(
        [lambda n=n: jobs.add_note(office, job["id"], f"note {n}") for n in range(10)]
    )
    assert all(not isinstance(a, str) for a in answers), answers
    notes = owner.get(f"/jobs/{job['id']}/notes?limit=50").data["items"]
    assert sorted(n["text"] for n in notes) == sorted(f"note {n}" for n in range(10))


def test_ten_patches_without_if_match_all_land(owner):
    from chalicelib.services import jobs

    job = _job(owner)
    office = _office(owner)
    answers = _together(
        [lambda n=n: jobs.update(office, job["id"], {"tags": [f"t{n}"]}, None) for n in range(10)]
    )
    assert all(not isinstance(a, str) for a in answers), answers
    timeline = owner.get(f"/jobs/{job['id']}/timeline?limit=50").data["items"]
    assert [e["type"] for e in timeline].count("JobUpdated") == 10
