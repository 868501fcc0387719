"""When automated texts go out: wall-clock arithmetic, quiet hours, dunning steps (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.domain import dunning, reminders
from chalicelib.domain.tenants import DEFAULT_DUNNING, QuietHours

CHICAGO = "America/Chicago"
NIGHT = QuietHours(start="21:00", end="08:00")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_hours_before_counts_on_the_wall_clock_across_both_dst_changes():
    # Spring forward (Sun 9 Mar 2025): 24 h before Sunday 09:00 CDT is Saturday 09:00 CST
    assert reminders.hours_before(local("2025-03-09T09:00-05:00"), 24, CHICAGO) == local(
        "2025-03-08T09:00-06:00"
    )
    # Fall back (Sun 2 Nov 2025): 24 h before Sunday 09:00 CST is Saturday 09:00 CDT
    assert reminders.hours_before(local("2025-11-02T09:00-06:00"), 24, CHICAGO) == local(
        "2025-11-01T09:00-05:00"
    )


def test_a_wall_clock_time_the_clocks_skip_lands_just_after_the_gap():
    # 02:30 on Sunday 9 March does not exist in Chicago: it is read as 03:30 CDT
    moment = reminders.hours_before(local("2025-03-10T02:30-05:00"), 24, CHICAGO)
    assert moment == local("2025-03-09T03:30-05:00")


def test_quiet_hours_across_midnight_and_within_a_day():
    assert reminders.in_quiet_hours(local("2025-03-10T22:00-05:00"), NIGHT, CHICAGO)
    assert reminders.in_quiet_hours(local("2025-03-10T07:59-05:00"), NIGHT, CHICAGO)
    assert not reminders.in_quiet_hours(local("2025-03-10T08:00-05:00"), NIGHT, CHICAGO)
    lunch = QuietHours(start="12:00", end="13:00")
    assert reminders.in_quiet_hours(local("2025-03-10T12:30-05:00"), lunch, CHICAGO)
    assert not reminders.in_quiet_hours(local("2025-03-10T13:00-05:00"), lunch, CHICAGO)
    never = QuietHours(start="00:00", end="00:00")
    assert not reminders.in_quiet_hours(local("2025-03-10T03:00-05:00"), never, CHICAGO)


def test_a_reminder_due_in_quiet_hours_moves_to_the_evening_before_they_begin():
    # 24 h before a 07:30 visit is 07:30, inside the night that began at 21:00 the day before
    moment = reminders.remind_at(
        local("2025-03-12T07:30-05:00"), 24, CHICAGO, NIGHT, local("2025-03-01T12:00-06:00")
    )
    assert moment == local("2025-03-10T20:59-05:00")


def test_a_visit_booked_at_short_notice_is_reminded_when_quiet_hours_end_or_not_at_all():
    visit = local("2025-03-11T10:00-05:00")
    # Booked at 23:00 the night before: the morning's first allowed minute, before the visit
    at_night = local("2025-03-10T23:00-05:00")
    assert reminders.remind_at(visit, 24, CHICAGO, NIGHT, at_night) == local(
        "2025-03-11T08:00-05:00"
    )
    # Booked at 09:00 for 10:00: right away
    morning = local("2025-03-11T09:00-05:00")
    assert reminders.remind_at(visit, 24, CHICAGO, NIGHT, morning) == morning
    # A 07:00 visit booked at 23:00: quiet hours last until after it, so no reminder
    early = local("2025-03-11T07:00-05:00")
    assert reminders.remind_at(early, 24, CHICAGO, NIGHT, at_night) is None


def test_the_default_dunning_policy_texts_at_ten_local_around_the_due_date():
    steps = dunning.plan(date(2025, 3, 10), DEFAULT_DUNNING, CHICAGO, NIGHT)
    assert [s.day.isoformat() for s in steps] == [
        "2025-03-07",
        "2025-03-10",
        "2025-03-13",
        "2025-03-17",
        "2025-03-24",
        "2025-04-09",
    ]
    # 10:00 CST before the clocks change, 10:00 CDT after
    assert steps[0].send_at == local("2025-03-07T10:00-06:00")
    assert steps[1].send_at == local("2025-03-10T10:00-05:00")
    assert [s.last for s in steps] == [False] * 5 + [True]


def test_steps_already_past_are_skipped_but_never_the_last():
    steps = dunning.plan(date(2025, 3, 10), DEFAULT_DUNNING, CHICAGO, NIGHT)
    # Sent on the due date at noon: the next step is three days later
    noon = local("2025-03-10T12:00-05:00")
    assert dunning.next_due(steps, 0, noon, None, CHICAGO, NIGHT, skip_past=True) == (
        2,
        local("2025-03-13T10:00-05:00"),
    )
    # Sent long after every step: the last one is due at once (it hands over to collections)
    later = local("2025-06-01T12:00-05:00")
    assert dunning.next_due(steps, 0, later, None, CHICAGO, NIGHT, skip_past=True) == (5, later)


def test_a_promise_to_pay_skips_the_steps_before_its_date_and_holds_the_last_until_then():
    steps = dunning.plan(date(2025, 3, 10), DEFAULT_DUNNING, CHICAGO, NIGHT)
    now = local("2025-03-01T12:00-06:00")
    # Promised by the 20th: the next step is the one of the 24th
    assert dunning.next_due(steps, 0, now, date(2025, 3, 20), CHICAGO, NIGHT) == (
        4,
        local("2025-03-24T10:00-05:00"),
    )
    # Promised by 1 May, after the last step: the last step waits for that morning
    assert dunning.next_due(steps, 0, now, date(2025, 5, 1), CHICAGO, NIGHT) == (
        5,
        local("2025-05-01T10:00-05:00"),
    )
