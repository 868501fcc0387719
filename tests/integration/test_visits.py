"""Visits: scheduling a job, assigning technicians, and the technician's day in the field."""

import random

from tests.integration.helpers import CUSTOMER

# Monday 3 June 2030 in Chicago (CDT, UTC-5): inside the default Mon-Fri 08:00-17:00 shift.
DAY = "2030-06-03"


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00-05:00"


def _technician(owner, name="Sam Ortiz", skills=("plumbing",), **fields):
    body = {"name": name, "phone": "(312) 555-0177", "skills": list(skills), **fields}
    response = owner.post("/technicians", body)
    assert response.status_code == 201, response.body
    return response.data


def _job(owner, phone=None):
    customer = {**CUSTOMER, "phone": phone or CUSTOMER["phone"]}
    response = owner.post("/leads", {"customer": customer, "title": "Water heater leaking"})
    assert response.status_code == 201, response.body
    return response.data


def _visit(owner, job, start="09:00", end="12:00", minutes=60, **fields):
    body = {"window_start": at(start), "window_end": at(end), "duration_minutes": minutes}
    return owner.post(f"/jobs/{job['id']}/visits", {**body, **fields})


def _scheduled(owner, job, tech, **fields):
    response = _visit(owner, job, technician_ids=[tech["id"]], **fields)
    assert response.status_code == 201, response.body
    return response.data


def _events(owner, job):
    return [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]]


def test_a_visit_with_a_technician_is_scheduled_and_so_is_the_job(owner):
    # Given a job and a plumber
    tech = _technician(owner)
    job = _job(owner)
    # When the office books a visit with the plumber on it
    created = _visit(owner, job, technician_ids=[tech["id"]], required_skills=["plumbing"])
    # Then the visit is scheduled at the start of its window, in UTC, and so is the job
    assert created.status_code == 201, created.body
    visit = created.data
    assert visit["status"] == "scheduled" and visit["technician_ids"] == [tech["id"]]
    assert visit["start"] == "2030-06-03T14:00:00Z" and visit["end"] == "2030-06-03T15:00:00Z"
    assert visit["location"] == {"lat": CUSTOMER["address"]["lat"], "lng": -87.6597}
    assert visit["timezone"] == "America/Chicago"
    detail = owner.get(f"/jobs/{job['id']}").data
    assert detail["stage"] == "scheduled"
    assert [v["visit_id"] for v in detail["visits"]] == [visit["id"]]
    assert _events(owner, job)[1:] == [
        "VisitCreated",
        "VisitScheduled",
        "TechnicianAssigned",
        "JobStageChanged",
    ]


def test_a_visit_without_technicians_waits_unscheduled_until_one_is_assigned(owner):
    tech = _technician(owner)
    job = _job(owner)
    created = _visit(owner, job)
    assert created.status_code == 201 and created.data["status"] == "unscheduled"
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "lead"
    assigned = owner.post(
        f"/jobs/{job['id']}/visits/{created.data['id']}/assign",
        {"technician_ids": [tech["id"]], "start": at("10:30")},
    )
    assert assigned.status_code == 200, assigned.body
    assert assigned.data["status"] == "scheduled"
    assert assigned.data["start"] == "2030-06-03T15:30:00Z"
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "scheduled"


def test_an_overlapping_booking_is_refused_naming_the_other_visit(owner):
    # Given a plumber booked 09:00-10:00 (the tenant keeps 15 minutes between jobs)
    tech = _technician(owner)
    first = _scheduled(owner, _job(owner), tech)
    other_job = _job(owner)
    # When another visit would start 10 minutes after the first one ends
    second = _visit(owner, other_job, start="10:10", end="12:00")
    refused = owner.post(
        f"/jobs/{other_job['id']}/visits/{second.data['id']}/assign",
        {"technician_ids": [tech["id"]]},
    )
    # Then it is a double booking naming the first visit, and nothing changed
    assert refused.status_code == 409, refused.body
    error = refused.data["error"]
    assert error["code"] == "double_booking"
    assert error["details"][0]["visit_id"] == first["id"]
    assert first["id"] in error["message"]
    still = owner.get(f"/jobs/{other_job['id']}/visits/{second.data['id']}").data
    assert still["status"] == "unscheduled"
    assert owner.get(f"/jobs/{other_job['id']}").data["stage"] == "lead"
    # And a start 15 minutes after the first one ends fits
    fits = owner.post(
        f"/jobs/{other_job['id']}/visits/{second.data['id']}/assign",
        {"technician_ids": [tech["id"]], "start": at("10:15")},
    )
    assert fits.status_code == 200, fits.body


def test_creating_a_visit_on_a_booked_slot_is_refused_and_leaves_no_visit(owner):
    tech = _technician(owner)
    first = _scheduled(owner, _job(owner), tech)
    job = _job(owner)
    refused = _visit(owner, job, technician_ids=[tech["id"]])
    assert refused.status_code == 409
    assert refused.data["error"]["details"][0]["visit_id"] == first["id"]
    assert owner.get(f"/jobs/{job['id']}").data["visits"] == []


def test_a_technician_without_the_required_skill_cannot_be_assigned(owner):
    electrician = _technician(owner, name="Eli Watts", skills=["electrical"])
    job = _job(owner)
    visit = _visit(owner, job, required_skills=["plumbing", "gas"]).data
    refused = owner.post(
        f"/jobs/{job['id']}/visits/{visit['id']}/assign", {"technician_ids": [electrician["id"]]}
    )
    assert refused.status_code == 422
    assert refused.data["error"]["code"] == "missing_skill"
    assert refused.data["error"]["details"][0]["missing"] == ["gas", "plumbing"]


def test_a_visit_outside_the_technicians_shift_is_refused(owner):
    # Given a plumber working weekdays 08:00-17:00 Chicago time
    tech = _technician(owner)
    job = _job(owner)
    # When a visit would run 16:30-17:30, or fall on a Saturday
    late = _visit(owner, job, start="16:30", end="18:00", technician_ids=[tech["id"]])
    saturday = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": at("09:00", "2030-06-08"),
            "window_end": at("12:00", "2030-06-08"),
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    # Then both are refused as off shift
    for refused in (late, saturday):
        assert refused.status_code == 422, refused.body
        assert refused.data["error"]["code"] == "off_shift"


def test_an_unknown_technician_is_422(owner, other_owner):
    stranger = _technician(other_owner)
    job = _job(owner)
    refused = _visit(owner, job, technician_ids=[stranger["id"]])
    assert refused.status_code == 422
    assert refused.data["error"]["code"] == "unknown_technician"


def test_cancelling_a_visit_frees_the_technicians_time(owner):
    tech = _technician(owner)
    job = _job(owner)
    first = _scheduled(owner, job, tech)
    cancelled = owner.post(
        f"/jobs/{job['id']}/visits/{first['id']}/cancel", {"reason": "customer away"}
    )
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.data["status"] == "cancelled"
    assert cancelled.data["cancel_reason"] == "customer away"
    # The same slot can now be booked for someone else
    _scheduled(owner, _job(owner), tech)
    assert "VisitCancelled" in _events(owner, job)
    again = owner.post(f"/jobs/{job['id']}/visits/{first['id']}/cancel")
    assert again.status_code == 409 and again.data["error"]["code"] == "illegal_transition"


def test_rescheduling_checks_the_new_slot_and_frees_the_old_one(owner):
    tech = _technician(owner)
    morning = _scheduled(owner, _job(owner), tech)
    job = _job(owner)
    afternoon = _scheduled(owner, job, tech, start="13:00", end="16:00")
    # Moving the afternoon visit onto the morning one is refused
    path = f"/jobs/{job['id']}/visits/{afternoon['id']}/reschedule"
    clash = owner.post(path, {"window_start": at("09:30"), "window_end": at("11:00")})
    assert clash.status_code == 409
    assert clash.data["error"]["details"][0]["visit_id"] == morning["id"]
    # Moving it to the next day works, and its old afternoon slot is free again
    moved = owner.post(
        path, {"window_start": at("09:00", "2030-06-04"), "window_end": at("12:00", "2030-06-04")}
    )
    assert moved.status_code == 200, moved.body
    assert moved.data["start"] == "2030-06-04T14:00:00Z"
    assert moved.data["technician_ids"] == [tech["id"]]
    _scheduled(owner, _job(owner), tech, start="13:00", end="16:00")
    assert "VisitRescheduled" in _events(owner, job)


def test_times_without_an_offset_or_a_visit_longer_than_its_window_are_422(owner):
    job = _job(owner)
    naive = owner.post(
        f"/jobs/{job['id']}/visits",
        {"window_start": f"{DAY}T09:00:00", "window_end": at("12:00"), "duration_minutes": 60},
    )
    too_long = _visit(owner, job, start="09:00", end="09:30", minutes=60)
    backwards = _visit(owner, job, start="12:00", end="09:00")
    too_short = _visit(owner, job, minutes=5)
    for response in (naive, too_long, backwards, too_short):
        assert response.status_code == 422, response.body


def test_the_technicians_day_texts_the_customer_and_moves_the_job_along(owner):
    # Given a scheduled visit at Dana's, and Sam about 8 km away
    phone = f"+1312555{random.randint(100, 199):04d}"
    tech = _technician(owner)
    job = _job(owner, phone=phone)
    visit = _scheduled(owner, job, tech)
    sam = owner.as_role("technician", tech["id"])
    path = f"/jobs/{job['id']}/visits/{visit['id']}/status"

    # When Sam heads out, sending where he is
    en_route = sam.post(path, {"status": "en_route", "location": {"lat": 41.95, "lng": -87.70}})

    # Then Dana is texted that Sam is on the way, with an ETA on her clock
    assert en_route.status_code == 200, en_route.body
    assert en_route.data["status"] == "en_route"
    text = owner.get(f"/dev/outbox?to={phone}").data["items"][0]["body"]
    assert text.startswith("Hi Dana, Sam from Acme Plumbing is on the way, arriving in about 20")
    assert text.endswith("M).")

    # When he arrives, the job is in progress; when he finishes, it is completed
    on_site = sam.post(path, {"status": "on_site"})
    assert on_site.status_code == 200
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "in_progress"
    done = sam.post(path, {"status": "completed", "note": "Replaced the anode rod"})
    assert done.status_code == 200, done.body
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "completed"
    assert [h["status"] for h in done.data["history"]] == [
        "unscheduled",
        "scheduled",
        "en_route",
        "on_site",
        "completed",
    ]
    events = _events(owner, job)
    for expected in ("TechnicianEnRoute", "MessageSent", "TechnicianOnSite", "VisitCompleted"):
        assert expected in events
    assert events[-1] == "JobStageChanged"


def test_on_my_way_without_a_location_has_no_eta(owner):
    phone = f"+1312555{random.randint(100, 199):04d}"
    tech = _technician(owner)
    job = _job(owner, phone=phone)
    visit = _scheduled(owner, job, tech)
    response = owner.post(f"/jobs/{job['id']}/visits/{visit['id']}/status", {"status": "en_route"})
    assert response.status_code == 200, response.body
    text = owner.get(f"/dev/outbox?to={phone}").data["items"][0]["body"]
    assert text == "Hi Dana, Sam from Acme Plumbing is on the way."


def test_a_status_out_of_order_is_an_illegal_transition(owner):
    tech = _technician(owner)
    job = _job(owner)
    visit = _scheduled(owner, job, tech)
    path = f"/jobs/{job['id']}/visits/{visit['id']}/status"
    skipped = owner.post(path, {"status": "completed"})
    assert skipped.status_code == 409
    assert skipped.data["error"]["code"] == "illegal_transition"
    unknown = owner.post(path, {"status": "scheduled"})
    assert unknown.status_code == 422


def test_no_access_does_not_complete_the_job(owner):
    tech = _technician(owner)
    job = _job(owner)
    visit = _scheduled(owner, job, tech)
    path = f"/jobs/{job['id']}/visits/{visit['id']}/status"
    response = owner.post(path, {"status": "no_access", "note": "Nobody home"})
    assert response.status_code == 200 and response.data["status"] == "no_access"
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "scheduled"
    assert "VisitNoAccess" in _events(owner, job)


def test_another_tenants_visit_is_not_found(owner, other_owner):
    tech = _technician(owner)
    job = _job(owner)
    visit = _scheduled(owner, job, tech)
    base = f"/jobs/{job['id']}/visits/{visit['id']}"
    assert other_owner.get(base).status_code == 404
    assert other_owner.post(f"{base}/status", {"status": "en_route"}).status_code == 404
    assert other_owner.post(f"{base}/cancel").status_code == 404
    assert owner.get(f"/jobs/{job['id']}/visits/nope").status_code == 404


def test_a_technician_not_on_the_visit_cannot_see_or_update_it(owner):
    sam = _technician(owner)
    eli = _technician(owner, name="Eli Watts")
    job = _job(owner)
    sams_visit = _scheduled(owner, job, sam)
    path = f"/jobs/{job['id']}/visits/{sams_visit['id']}/status"
    # Eli has nothing on this job: the job itself is hidden
    eli_api = owner.as_role("technician", eli["id"])
    assert eli_api.post(path, {"status": "en_route"}).status_code == 404
    assert eli_api.get(f"/jobs/{job['id']}").status_code == 404
    # Eli on another visit of the same job still cannot touch Sam's
    _scheduled(owner, job, eli, start="13:00", end="16:00")
    assert eli_api.post(path, {"status": "en_route"}).status_code == 404
    assert eli_api.get(f"/jobs/{job['id']}").status_code == 200
    # Technicians cannot book visits
    assert eli_api.post(f"/jobs/{job['id']}/visits/{sams_visit['id']}/cancel").status_code == 403


def test_a_technician_on_the_visit_reads_the_job_and_leaves_a_note(owner):
    tech = _technician(owner)
    job = _job(owner)
    _scheduled(owner, job, tech)
    sam = owner.as_role("technician", tech["id"])
    assert sam.get(f"/jobs/{job['id']}").status_code == 200
    note = sam.post(f"/jobs/{job['id']}/notes", {"text": "Bring a 40 gal tank"})
    assert note.status_code == 201, note.body
