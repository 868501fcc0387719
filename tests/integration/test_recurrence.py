"""Recurring visits: one visit per occurrence, booked through the double-booking guard."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.helpers import CUSTOMER

# Monday 4 March 2030, 09:00 in Chicago (CST, UTC-6); clocks spring forward on 10 March.
FIRST = "2030-03-04"


def _technician(owner, name="Sam Ortiz"):
    body = {"name": name, "phone": "(312) 555-0177", "skills": ["plumbing"]}
    response = owner.post("/technicians", body)
    assert response.status_code == 201, response.body
    return response.data


def _job(owner):
    response = owner.post("/leads", {"customer": CUSTOMER, "title": "Grease trap service"})
    assert response.status_code == 201, response.body
    return response.data


def _series(owner, job, rule, **fields):
    body = {
        "window_start": f"{FIRST}T09:00:00-06:00",
        "window_end": f"{FIRST}T11:00:00-06:00",
        "duration_minutes": 60,
        "recurrence": rule,
        **fields,
    }
    return owner.post(f"/jobs/{job['id']}/visits", body)


def _visits(owner, job):
    listed = owner.get(f"/jobs/{job['id']}/visits?limit=200")
    assert listed.status_code == 200, listed.body
    return listed.data["items"]


def test_a_weekly_series_books_every_monday_at_nine_local_each_movable_alone(owner):
    # Given a plumber and a job
    tech = _technician(owner)
    job = _job(owner)

    # When the office books twelve Mondays with the plumber
    created = _series(
        owner, job, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12", technician_ids=[tech["id"]]
    )

    # Then there are twelve scheduled visits of one series, 09:00 Chicago time before and
    # after the clocks change
    assert created.status_code == 201, created.body
    occurrences = created.data["occurrences"]
    assert len(occurrences) == 12
    assert created.data["id"] == occurrences[0]["id"]
    assert {v["series_id"] for v in occurrences} == {created.data["series_id"]}
    assert {v["status"] for v in occurrences} == {"scheduled"}
    assert [v["start"] for v in occurrences[:3]] == [
        "2030-03-04T15:00:00Z",  # CST
        "2030-03-11T14:00:00Z",  # CDT
        "2030-03-18T14:00:00Z",
    ]
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "scheduled"
    events = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]]
    assert events.count("VisitScheduled") == 12 and events.count("VisitSeriesCreated") == 1

    # And each one can be moved or cancelled without touching the others
    second, third = occurrences[1], occurrences[2]
    moved = owner.post(
        f"/jobs/{job['id']}/visits/{second['id']}/reschedule",
        {"window_start": "2030-03-12T13:00:00-05:00", "window_end": "2030-03-12T15:00:00-05:00"},
    )
    assert moved.status_code == 200, moved.body
    cancelled = owner.post(f"/jobs/{job['id']}/visits/{third['id']}/cancel", {"reason": "holiday"})
    assert cancelled.status_code == 200
    now = {v["id"]: v for v in _visits(owner, job)}
    assert now[second["id"]]["start"] == "2030-03-12T18:00:00Z"
    assert now[third["id"]]["status"] == "cancelled"
    untouched = [v for v in occurrences if v["id"] not in (second["id"], third["id"])]
    assert all(now[v["id"]]["version"] == v["version"] for v in untouched)
    # The technician's board shows the series on its Mondays
    board = owner.get("/dispatch/board?date=2030-03-25").data
    sams = next(t for t in board["technicians"] if t["id"] == tech["id"])
    assert [v["series_id"] for v in sams["visits"]] == [created.data["series_id"]]


def test_a_clash_on_any_occurrence_is_409_naming_it_and_writes_nothing(owner):
    # Given the plumber already booked on the third Monday at 09:30
    tech = _technician(owner)
    other = _job(owner)
    booked = owner.post(
        f"/jobs/{other['id']}/visits",
        {
            "window_start": "2030-03-18T09:30:00-05:00",
            "window_end": "2030-03-18T11:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert booked.status_code == 201
    job = _job(owner)

    # When a weekly series with the plumber is booked
    refused = _series(owner, job, "FREQ=WEEKLY;COUNT=6", technician_ids=[tech["id"]])

    # Then it is a double booking naming the third occurrence and the visit in the way
    assert refused.status_code == 409, refused.body
    error = refused.data["error"]
    assert error["code"] == "double_booking"
    assert error["message"].startswith("occurrence 3 on 2030-03-18:")
    assert error["details"][0]["occurrence"] == 3
    assert error["details"][0]["visit_id"] == booked.data["id"]
    # And no visit of the series was written
    assert _visits(owner, job) == []
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "lead"


def test_an_occurrence_off_the_technicians_shift_is_422_naming_it(owner):
    tech = _technician(owner)
    job = _job(owner)

    # Daily from a Monday reaches Saturday, which the Mon-Fri shift does not cover
    refused = _series(owner, job, "FREQ=DAILY;COUNT=7", technician_ids=[tech["id"]])

    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "off_shift"
    assert refused.data["error"]["details"][0]["occurrence"] == 6
    assert _visits(owner, job) == []


def test_a_long_series_is_written_in_batches_below_the_transaction_limit(owner):
    tech = _technician(owner)
    job = _job(owner)

    # Sixty weekday visits in its first quarter: 240 writes, more than one transaction takes
    created = _series(
        owner, job, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=60", technician_ids=[tech["id"]]
    )

    assert created.status_code == 201, created.body
    assert len(created.data["occurrences"]) == 60
    assert len(_visits(owner, job)) == 60
    # Every one of them holds the technician's time: the last day is taken
    last = created.data["occurrences"][-1]
    clash = owner.post(
        f"/jobs/{_job(owner)['id']}/visits",
        {
            "window_start": last["window_start"],
            "window_end": last["window_end"],
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert clash.status_code == 409
    assert clash.data["error"]["details"][0]["visit_id"] == last["id"]


def test_a_series_for_years_is_written_a_quarter_ahead_by_the_nightly_schedule(owner):
    from chalicelib.services import series

    tech = _technician(owner)
    job = _job(owner)

    # A weekly service with no end: only its first quarter exists (14 Mondays)
    created = _series(owner, job, "FREQ=WEEKLY", technician_ids=[tech["id"]])
    assert created.status_code == 201, created.body
    assert len(_visits(owner, job)) == 14

    # When the nights pass (run twice on one night: nothing is written twice)
    one_month_on = datetime(2030, 4, 1, 12, tzinfo=UTC)
    series.extend_due(one_month_on)
    series.extend_due(one_month_on)
    a_year_on = datetime(2031, 3, 1, 12, tzinfo=UTC)
    series.extend_due(a_year_on)

    # Then the visits reach a quarter past each night, each Monday once, all booked for Sam
    visits = _visits(owner, job)
    starts = [v["start"] for v in visits]
    assert len(starts) == len(set(starts))
    assert max(starts) >= "2031-05-26" and len(visits) == 65
    assert {v["status"] for v in visits} == {"scheduled"}
    assert {v["series_id"] for v in visits} == {created.data["series_id"]}


def test_a_series_visit_whose_technician_is_taken_waits_unassigned(owner):
    from chalicelib.services import series

    tech = _technician(owner)
    job = _job(owner)
    created = _series(owner, job, "FREQ=WEEKLY;COUNT=20", technician_ids=[tech["id"]])
    assert created.status_code == 201, created.body
    # Sam is booked elsewhere on the 15th Monday before the series reaches it
    other = owner.post(
        f"/jobs/{_job(owner)['id']}/visits",
        {
            "window_start": "2030-06-10T09:00:00-05:00",
            "window_end": "2030-06-10T11:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert other.status_code == 201, other.body

    series.extend_due(datetime(2030, 3, 20, 12, tzinfo=UTC))

    by_day = {v["start"][:10]: v for v in _visits(owner, job)}
    assert by_day["2030-06-10"]["status"] == "unscheduled"
    assert by_day["2030-06-17"]["status"] == "scheduled"
    timeline = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]]
    assert "SeriesVisitUnassigned" in timeline


def test_an_unassigned_series_waits_on_the_unassigned_board(owner):
    job = _job(owner)

    created = _series(owner, job, "FREQ=MONTHLY;BYDAY=1MO;COUNT=3")

    assert created.status_code == 201, created.body
    assert {v["status"] for v in created.data["occurrences"]} == {"unscheduled"}
    board = owner.get("/dispatch/board?date=2030-04-01").data
    assert [v["id"] for v in board["unassigned"]] == [created.data["occurrences"][1]["id"]]


def test_unreadable_or_sub_daily_rules_are_422_and_write_nothing(owner):
    job = _job(owner)
    for rule in ("FREQ=HOURLY;COUNT=3", "FREQ=DAILY;BYHOUR=9", "FREQ=FORTNIGHTLY"):
        refused = _series(owner, job, rule)
        assert refused.status_code == 422, (rule, refused.body)
        assert refused.data["error"]["code"] == "invalid_recurrence"
    assert _visits(owner, job) == []
