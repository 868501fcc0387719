"""Time: a technician's scripted week (clocked shifts, a visit's travel and on-site time, the
office's corrections) read back as a timesheet and as job costing, in exact figures."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.domain import clock
from tests.integration.helpers import CUSTOMER

CHICAGO = ZoneInfo("America/Chicago")
WEEK = "2030-W23"  # Monday 3 June to Sunday 9 June 2030, CDT (UTC-5)


def moment(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2030, 6, day, hour, minute, tzinfo=CHICAGO)


@contextmanager
def at(day: int, hhmm: str):
    fixed = moment(day, hhmm)
    clock.set_clock(lambda: fixed)
    try:
        yield
    finally:
        clock.set_clock(None)


def _technician(owner, name, rate):
    body = {"name": name, "phone": "(312) 555-0177", "cost_rate_cents": rate}
    response = owner.post("/technicians", body)
    assert response.status_code == 201, response.body
    return response.data


def _entry(tech, kind, start: datetime, end: datetime, reason: str, **more) -> dict:
    """An office's time entry for `tech`."""
    times = {"start": start.isoformat(), "end": end.isoformat()}
    return {"technician_id": tech["id"], "kind": kind, **times, "reason": reason, **more}


def _clocked(tech_api, day, start, end):
    with at(day, start):
        assert tech_api.post("/time/clock-in").status_code == 201
    with at(day, end):
        out = tech_api.post("/time/clock-out")
    assert out.status_code == 200, out.body
    return out.data


def _worked_visit(owner, sam_api, sam):
    """Monday: Sam drives 08:00-08:30 and works 08:30-10:30 on a job the office then bills."""
    job = owner.post("/leads", {"customer": CUSTOMER, "title": "Water heater leaking"}).data
    body = {
        "window_start": moment(3, "08:00").isoformat(),
        "window_end": moment(3, "12:00").isoformat(),
        "duration_minutes": 120,
        "technician_ids": [sam["id"]],
    }
    with at(2, "12:00"):
        visit = owner.post(f"/jobs/{job['id']}/visits", body).data
    path = f"/jobs/{job['id']}/visits/{visit['id']}/status"
    for day_time, status in (("08:00", "en_route"), ("08:30", "on_site"), ("10:30", "completed")):
        with at(3, day_time):
            reported = sam_api.post(path, {"status": status})
        assert reported.status_code == 200, reported.body
    return job


def test_a_scripted_week_gives_exact_timesheets_and_job_costing(owner):
    sam = _technician(owner, "Sam Ortiz", 4_500)  # 45.00 an hour
    lee = _technician(owner, "Lee Park", 3_000)
    sam_api = owner.as_role("technician", sam["id"])

    # Sam clocks 07:00-16:00 Monday, 07:00-17:00 Tuesday to Thursday, 07:00-12:00 Friday: 44 h
    _clocked(sam_api, 3, "07:00", "16:00")
    job = _worked_visit(owner, sam_api, sam)
    for day in (4, 5, 6):
        _clocked(sam_api, day, "07:00", "17:00")
    _clocked(sam_api, 7, "07:00", "12:00")
    # Lee forgot to clock a Friday afternoon on the job: the office records it, then corrects it
    with at(7, "18:00"):
        added = owner.post(
            "/time/entries",
            _entry(
                lee,
                "on_site",
                moment(7, "13:00"),
                moment(7, "15:00"),
                "forgot to clock in",
                job_id=job["id"],
            ),
        )
    assert added.status_code == 201, added.body
    with at(7, "18:05"):
        corrected = owner.patch(
            f"/time/entries/{added.data['id']}",
            {"end": moment(7, "14:30").isoformat(), "reason": "left at 14:30, per the customer"},
        )
    assert corrected.status_code == 200, corrected.body
    history = corrected.data["history"]
    assert [h["reason"] for h in history] == [
        "forgot to clock in",
        "left at 14:30, per the customer",
    ]
    assert history[1]["by"] == owner.owner_id
    assert history[1]["changes"] == {"end": ["2030-06-07T20:00:00Z", "2030-06-07T19:30:00Z"]}
    # The office bills the job: 400.00 of work and two anode rods from the price book (60.00
    # each, costing 22.50 each), 10 % tax (not part of the margin)
    owner.patch("/settings", {"tax_rate_bps": 1000})
    rod = owner.post(
        "/pricebook/items",
        {
            "kind": "material",
            "name": "Anode rod",
            "unit_price_cents": 6_000,
            "unit_cost_cents": 2_250,
        },
    )
    assert rod.status_code == 201, rod.body
    lines = [
        {"description": "Replace anode rods", "quantity": 1, "unit_price_cents": 40_000},
        {"item_id": rod.data["id"], "quantity": 2},
    ]
    final = owner.post(f"/jobs/{job['id']}/invoices", {"kind": "final", "line_items": lines})
    assert final.status_code == 201, final.body
    assert final.data["total_cents"] == 57_200

    sheets = owner.get(f"/reports/timesheets?week={WEEK}")

    assert sheets.status_code == 200, sheets.body
    assert sheets.data["timezone"] == "America/Chicago"
    assert sheets.data["start"] == "2030-06-03T05:00:00Z"
    by_name = {t["name"]: t for t in sheets.data["technicians"]}
    sam_week, lee_week = by_name["Sam Ortiz"], by_name["Lee Park"]
    assert sam_week["worked_minutes"] == 44 * 60
    assert (sam_week["travel_minutes"], sam_week["on_site_minutes"]) == (30, 120)
    assert sam_week["overtime_minutes"] == 4 * 60
    assert [d["worked_minutes"] for d in sam_week["days"]] == [540, 600, 600, 600, 300, 0, 0]
    assert (lee_week["worked_minutes"], lee_week["overtime_minutes"]) == (90, 0)
    assert {e["source"] for e in sam_week["entries"]} == {"clock", "visit"}

    costing = owner.get("/reports/job-costing?from=2030-06-03&to=2030-06-09")

    assert costing.status_code == 200, costing.body
    [row] = costing.data["jobs"]
    assert row["job_id"] == job["id"] and row["labour_minutes"] == 30 + 120 + 90
    # Sam 150 min at 45.00/h = 112.50; Lee 90 min at 30.00/h = 45.00
    assert row["labour_cents"] == 11_250 + 4_500
    assert row["materials_cents"] == 4_500  # the rods' cost; the typed line carries none
    assert row["invoiced_cents"] == 52_000  # before tax
    assert row["margin_cents"] == 52_000 - 15_750 - 4_500
    assert costing.data["totals"]["margin_cents"] == 31_750
    # The week before has nothing
    assert owner.get("/reports/job-costing?from=2030-05-27&to=2030-06-02").data["jobs"] == []


def test_clocking_twice_and_technician_limits_are_refused(owner):
    sam = _technician(owner, "Sam Ortiz", 4_500)
    sam_api = owner.as_role("technician", sam["id"])
    assert sam_api.post("/time/clock-out").data["error"]["code"] == "not_clocked_in"
    assert sam_api.post("/time/clock-in").status_code == 201
    again = sam_api.post("/time/clock-in")
    assert again.status_code == 409 and again.data["error"]["code"] == "already_clocked_in"
    # Technicians neither correct time nor read the reports; the office needs a reason
    assert sam_api.get(f"/reports/timesheets?week={WEEK}").status_code == 403
    assert sam_api.post("/time/entries", {}).status_code == 403
    unexplained = owner.post(
        "/time/entries", _entry(sam, "shift", moment(3, "09:00"), moment(3, "08:00"), "typo")
    )
    assert unexplained.status_code == 422
    assert unexplained.data["error"]["code"] == "invalid_time_entry"
    assert owner.get("/reports/timesheets?week=2030-W60").status_code == 422


def test_another_businesss_team_and_time_are_not_found(owner, other_owner):
    sam = _technician(owner, "Sam Ortiz", 4_500)
    with at(3, "09:00"):
        entry = owner.as_role("technician", sam["id"]).post("/time/clock-in").data

    assert other_owner.patch(f"/time/entries/{entry['id']}", {"reason": "x"}).status_code == 404
    assert other_owner.patch(f"/team/{sam['id']}", {"role": "office"}).status_code == 404
    assert other_owner.post(f"/team/{sam['id']}/deactivate").status_code == 404
    theirs = _entry(sam, "shift", moment(3, "09:00"), moment(3, "10:00"), "not ours")
    refused = other_owner.post("/time/entries", theirs)
    assert refused.data["error"]["code"] == "unknown_technician"
    assert other_owner.get(f"/reports/timesheets?week={WEEK}").data["technicians"] == []


def test_a_night_shift_across_the_spring_change_counts_the_hours_that_passed(owner):
    # Chicago's clocks skip from 02:00 to 03:00 on Sunday 8 March 2026 (week 2026-W10)
    sam = _technician(owner, "Sam Ortiz", 4_500)
    start = datetime(2026, 3, 7, 22, tzinfo=CHICAGO)  # CST, UTC-6
    end = datetime(2026, 3, 8, 6, tzinfo=CHICAGO)  # CDT, UTC-5
    night = owner.post("/time/entries", _entry(sam, "shift", start, end, "night call-out"))
    assert night.status_code == 201, night.body

    week = owner.get("/reports/timesheets?week=2026-W10").data

    assert week["start"] == "2026-03-02T06:00:00Z" and week["end"] == "2026-03-09T05:00:00Z"
    [sheet] = week["technicians"]
    assert sheet["worked_minutes"] == 7 * 60  # 22:00 to 06:00 on the wall clock
    by_day = {d["date"]: d["worked_minutes"] for d in sheet["days"]}
    assert (by_day["2026-03-07"], by_day["2026-03-08"]) == (120, 300)
