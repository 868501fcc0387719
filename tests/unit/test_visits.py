"""Visit rules with no I/O: overlaps and the travel buffer, shifts across DST, the status
machine, the technician's day, and the "on my way" ETA."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import visits as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.geo import eta_minutes, haversine_km
from chalicelib.domain.users import Point, Shift, User
from chalicelib.domain.visits import Booking, TechDay

CHICAGO = "America/Chicago"


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def booking(visit_id: str, start: datetime, minutes: int = 60) -> Booking:
    return Booking(
        visit_id=visit_id, job_id="j", start=start, end=start + timedelta(minutes=minutes)
    )


def visit(
    start=utc(2030, 6, 3, 14), minutes=60, status="unscheduled", technician_ids=(), **fields
) -> rules.Visit:
    made, _ = rules.new_visit(
        visit_id=fields.pop("visit_id", "v1"),
        job_id="j1",
        window_start=start,
        window_end=start + timedelta(hours=3),
        duration_minutes=minutes,
        timezone=CHICAGO,
        actor="office",
        **fields,
    )
    made.status, made.technician_ids = status, list(technician_ids)
    return made


def technician(skills=(), shift=None) -> User:
    return User(
        user_id="sam",
        role="technician",
        name="Sam Ortiz",
        skills=list(skills),
        shift=shift or Shift(),
        created_at=utc(2030, 1, 1),
    )


# --- overlap and the travel buffer ------------------------------------------------------------


def test_visits_back_to_back_overlap_only_when_a_buffer_is_required():
    nine = booking("a", utc(2030, 6, 3, 14))
    ten = booking("b", utc(2030, 6, 3, 15))
    assert not rules.overlaps(nine, ten, buffer_minutes=0)
    assert rules.overlaps(nine, ten, buffer_minutes=15)


def test_a_gap_as_long_as_the_buffer_fits_and_a_shorter_one_does_not():
    nine = booking("a", utc(2030, 6, 3, 14))
    assert not rules.overlaps(nine, booking("b", utc(2030, 6, 3, 15, 15)), 15)
    assert rules.overlaps(nine, booking("b", utc(2030, 6, 3, 15, 14)), 15)
    # The buffer counts before a visit as well as after it
    assert rules.overlaps(nine, booking("b", utc(2030, 6, 3, 12, 50)), 15)
    assert not rules.overlaps(nine, booking("b", utc(2030, 6, 3, 12, 45)), 15)


def test_a_visit_never_clashes_with_itself():
    nine = booking("a", utc(2030, 6, 3, 14))
    assert rules.find_clash([nine], nine, 15) is None


def test_a_booked_day_refuses_an_overlap_naming_the_visit_it_clashes_with():
    day = TechDay(technician_id="sam", day="2030-06-03")
    day.book(booking("first", utc(2030, 6, 3, 14)), 15)
    with pytest.raises(Conflict) as refused:
        day.book(booking("second", utc(2030, 6, 3, 14, 30)), 15)
    assert refused.value.code == "double_booking"
    assert refused.value.details[0]["visit_id"] == "first"
    assert [b.visit_id for b in day.bookings] == ["first"]


def test_moving_a_visit_to_another_day_releases_the_old_day():
    before = visit(status="scheduled", technician_ids=["sam"])
    after = before.model_copy(deep=True)
    after.start = after.window_start = utc(2030, 6, 4, 14)
    after.window_end = utc(2030, 6, 4, 17)
    old_day = TechDay(technician_id="sam", day="2030-06-03")
    old_day.book(booking("v1", before.start), 15)
    new_day = TechDay(technician_id="sam", day="2030-06-04")
    days = {("sam", "2030-06-03"): old_day, ("sam", "2030-06-04"): new_day}
    changed = rules.rebook(before, after, days, CHICAGO, 15)
    assert {d.day for d in changed} == {"2030-06-03", "2030-06-04"}
    assert old_day.bookings == [] and [b.visit_id for b in new_day.bookings] == ["v1"]


def test_a_status_report_alone_touches_no_technician_day():
    before = visit(status="scheduled", technician_ids=["sam", "eli"])
    after = before.model_copy(deep=True)
    rules.report(after, "en_route", "sam")
    assert rules.days_to_change(before, after, CHICAGO) == []


def test_a_visit_with_two_technicians_holds_time_in_both_days():
    scheduled = visit(status="scheduled", technician_ids=["sam", "eli"])
    assert set(rules.bookings(scheduled, CHICAGO)) == {
        ("sam", "2030-06-03"),
        ("eli", "2030-06-03"),
    }


def test_the_day_is_the_businesss_local_date():
    # 22:00 in Chicago on 3 June is already 4 June in UTC
    assert rules.local_day(utc(2030, 6, 4, 3), CHICAGO) == "2030-06-03"


# --- shifts in the business's time zone -------------------------------------------------------


def test_a_shift_is_wall_clock_time_so_it_moves_in_utc_across_dst():
    shift = Shift(days=["mon", "tue", "wed", "thu", "fri"], start="08:00", end="17:00")
    # Friday 8 March 2030 is CST (UTC-6): 13:30Z is 07:30, before the shift
    assert not rules.within_shift(shift, utc(2030, 3, 8, 13, 30), utc(2030, 3, 8, 14, 30), CHICAGO)
    # Monday 11 March, after clocks went forward (UTC-5): the same 13:30Z is 08:30, inside
    assert rules.within_shift(shift, utc(2030, 3, 11, 13, 30), utc(2030, 3, 11, 14, 30), CHICAGO)


def test_on_the_dst_day_itself_the_shift_starts_at_the_new_offset():
    sunday = Shift(days=["sun"], start="08:00", end="17:00")
    # Sunday 10 March 2030: clocks jump at 02:00, so 08:00 is 13:00Z, not 14:00Z
    assert rules.within_shift(sunday, utc(2030, 3, 10, 13), utc(2030, 3, 10, 14), CHICAGO)
    assert not rules.within_shift(sunday, utc(2030, 3, 10, 12, 30), utc(2030, 3, 10, 13), CHICAGO)
    # Sunday 3 November 2030: clocks fall back, 17:00 is 23:00Z
    assert rules.within_shift(sunday, utc(2030, 11, 3, 22), utc(2030, 11, 3, 23), CHICAGO)
    assert not rules.within_shift(sunday, utc(2030, 11, 3, 22), utc(2030, 11, 3, 23, 1), CHICAGO)


def test_a_day_off_is_off_shift_whatever_the_time():
    weekdays = Shift()
    saturday_morning = utc(2030, 6, 8, 15)
    end = saturday_morning + timedelta(hours=1)
    assert not rules.within_shift(weekdays, saturday_morning, end, CHICAGO)


def test_a_technician_is_refused_for_a_missing_skill_and_for_a_time_off_shift():
    plumbing = visit(required_skills=["plumbing", "gas"])
    with pytest.raises(Invalid) as missing:
        rules.check_technicians([technician(skills=["plumbing"])], plumbing, CHICAGO)
    assert missing.value.code == "missing_skill"
    assert missing.value.details[0]["missing"] == ["gas"]
    evening = visit(start=utc(2030, 6, 3, 22, 30))
    with pytest.raises(Invalid) as late:
        rules.check_technicians([technician()], evening, CHICAGO)
    assert late.value.code == "off_shift"
    rules.check_technicians([technician(skills=["plumbing", "gas"])], plumbing, CHICAGO)


# --- the window -------------------------------------------------------------------------------


def test_a_window_must_run_forwards_and_hold_the_visit():
    nine = utc(2030, 6, 3, 14)
    with pytest.raises(Invalid):
        rules.check_times(nine, nine, 60, nine)
    with pytest.raises(Invalid):
        rules.check_times(nine, nine + timedelta(minutes=30), 60, nine)
    with pytest.raises(Invalid):
        rules.check_times(nine, nine + timedelta(hours=3), 60, nine + timedelta(hours=2, minutes=1))
    rules.check_times(nine, nine + timedelta(hours=3), 60, nine + timedelta(hours=2))


def test_times_without_an_offset_are_refused():
    with pytest.raises(ValueError):
        visit(start=datetime(2030, 6, 3, 9))


# --- the status machine -----------------------------------------------------------------------


def test_a_technicians_day_runs_scheduled_en_route_on_site_completed():
    current = visit(status="scheduled")
    types = [rules.report(current, s, "sam").type for s in ("en_route", "on_site", "completed")]
    assert types == ["TechnicianEnRoute", "TechnicianOnSite", "VisitCompleted"]
    assert current.status == "completed"


@pytest.mark.parametrize(
    ("status", "reported"),
    [
        ("scheduled", "on_site"),
        ("scheduled", "completed"),
        ("unscheduled", "en_route"),
        ("completed", "en_route"),
        ("en_route", "en_route"),
        ("cancelled", "no_access"),
        ("no_access", "completed"),
    ],
)
def test_a_status_out_of_order_is_an_illegal_transition(status, reported):
    with pytest.raises(Conflict) as refused:
        rules.report(visit(status=status), reported, "sam")
    assert refused.value.code == "illegal_transition"


@pytest.mark.parametrize("status", ["scheduled", "dispatched", "en_route", "on_site"])
def test_nobody_home_can_be_reported_until_the_work_is_done(status):
    assert rules.report(visit(status=status), "no_access", "sam").type == "VisitNoAccess"


def test_a_completed_visit_cannot_be_cancelled_or_moved():
    done = visit(status="completed")
    with pytest.raises(Conflict):
        rules.cancel(done, None, "office")
    with pytest.raises(Conflict):
        rules.reschedule(done, done.window_start, done.window_end, None, "office")


def test_the_work_is_done_when_every_visit_not_cancelled_is_completed():
    done, called_off = visit(status="completed"), visit(status="cancelled")
    assert rules.all_done([done, called_off])
    assert not rules.all_done([done, visit(status="no_access")])
    assert not rules.all_done([called_off])
    assert not rules.all_done([])


# --- on my way --------------------------------------------------------------------------------


def test_one_degree_of_latitude_is_about_111_km():
    assert haversine_km(Point(lat=41, lng=-87), Point(lat=42, lng=-87)) == pytest.approx(
        111.2, 0.01
    )


def test_the_eta_stretches_the_straight_line_and_rounds_up_to_five_minutes():
    # 111.2 km x 1.3 at 40 km/h is 216.8 minutes: about 220
    assert eta_minutes(Point(lat=41, lng=-87), Point(lat=42, lng=-87)) == 220
    # Next door is still "about 5 minutes"
    assert eta_minutes(Point(lat=41, lng=-87), Point(lat=41, lng=-87)) == 5


def test_the_on_my_way_text_shows_the_arrival_on_the_customers_clock():
    from chalicelib.domain import templates

    now = utc(2030, 6, 3, 19, 30)  # 14:30 in Chicago (CDT)
    values = {"first_name": "Dana", "business_name": "Acme Plumbing", "technician": "Sam"}
    eta = rules.eta_phrase(25, now, CHICAGO)
    assert templates.render("on_my_way", {}, {**values, "eta": eta}) == (
        "Hi Dana, Sam from Acme Plumbing is on the way, arriving in about 25 minutes"
        " (around 2:55 PM)."
    )
    assert rules.eta_phrase(None, now, CHICAGO) == ""
    assert templates.render("on_my_way", {}, {**values, "eta": ""}) == (
        "Hi Dana, Sam from Acme Plumbing is on the way."
    )


def test_the_eta_needs_both_the_technicians_position_and_the_visits():
    here = Point(lat=41.95, lng=-87.70)
    assert rules.eta_for(visit(location=Point(lat=41.8868, lng=-87.6597)), here) == 20
    assert rules.eta_for(visit(), here) is None
    assert rules.eta_for(visit(location=here), None) is None


def test_a_visit_keeps_its_latest_status_changes_only():
    # Assigned and taken off again thirty times (the timeline keeps every change)
    moved = visit()
    for _ in range(15):
        rules.assign(moved, ["tech-1"], None, "office")
        rules.unassign(moved, "office")
    assert len(moved.history) == rules.MAX_HISTORY
    assert moved.history[-1].status == "unscheduled"


def test_the_tally_counts_open_and_live_visits_and_each_technicians():
    done, open_, off = visit(), visit(), visit()
    rules.assign(done, ["sam"], None, "office")
    rules.assign(open_, ["eli"], None, "office")
    done.status, off.status = "completed", "cancelled"
    tally = rules.Tally.of([done, open_, off])
    assert (tally.live, tally.unfinished, tally.work_done) == (2, 1, False)
    assert tally.names("sam") and tally.names("eli") and not tally.names("ana")

    finished = open_.model_copy(deep=True)
    finished.status = "completed"
    assert tally.change(open_, finished)
    assert tally.work_done
