"""Recurring visits: an RRULE on the property's wall clock, DST-proof, written 60 days ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import recurrence
from chalicelib.domain.errors import Invalid
from chalicelib.domain.recurrence import expand

FAR = datetime(2040, 1, 1, tzinfo=UTC)

CHICAGO = "America/Chicago"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def series(rule: str, first="2030-03-04T09:00:00-06:00", end="2030-03-04T12:00:00-06:00", **kw):
    until = kw.pop("until", FAR)
    return expand(rule, local(first), local(end), None, kw.pop("timezone", CHICAGO), until)


def utc_starts(occurrences) -> list[str]:
    return [o.window_start.strftime("%Y-%m-%dT%H:%MZ") for o in occurrences]


def test_weekly_mondays_stay_at_nine_local_across_the_spring_change():
    # Given a Monday 09:00 CST series (Chicago springs forward on Sunday 10 March 2030)
    occurrences = series("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3")

    # Then the UTC instant moves an hour earlier, and the wall clock stays at 09:00-12:00
    assert utc_starts(occurrences) == [
        "2030-03-04T15:00Z",
        "2030-03-11T14:00Z",
        "2030-03-18T14:00Z",
    ]
    for occurrence in occurrences:
        assert occurrence.window_start.astimezone(_zone()).strftime("%a %H:%M") == "Mon 09:00"
        assert occurrence.window_end.astimezone(_zone()).strftime("%H:%M") == "12:00"


def test_weekly_mondays_stay_at_nine_local_across_the_autumn_change():
    # Chicago falls back on Sunday 3 November 2030.
    occurrences = series(
        "FREQ=WEEKLY;BYDAY=MO;COUNT=2",
        first="2030-10-28T09:00:00-05:00",
        end="2030-10-28T11:00:00-05:00",
    )

    assert utc_starts(occurrences) == ["2030-10-28T14:00Z", "2030-11-04T15:00Z"]
    assert [o.window_start.astimezone(_zone()).hour for o in occurrences] == [9, 9]


def test_the_planned_start_keeps_its_place_in_each_window():
    occurrences = expand(
        "FREQ=DAILY;COUNT=2",
        local("2030-03-09T09:00:00-06:00"),
        local("2030-03-09T12:00:00-06:00"),
        local("2030-03-09T10:30:00-06:00"),
        CHICAGO,
        FAR,
    )

    assert [o.start.astimezone(_zone()).strftime("%d %H:%M") for o in occurrences] == [
        "09 10:30",
        "10 10:30",
    ]


def test_the_rule_is_read_in_the_property_zone_not_the_offset_given():
    # 09:00 in Chicago given as UTC; the property is in Denver (an hour behind Chicago).
    occurrences = expand(
        "FREQ=WEEKLY;COUNT=2",
        local("2030-03-04T15:00:00+00:00"),
        local("2030-03-04T16:00:00+00:00"),
        None,
        "America/Denver",
        FAR,
    )

    # 08:00 Denver both weeks (Denver also springs forward on 10 March).
    assert utc_starts(occurrences) == ["2030-03-04T15:00Z", "2030-03-11T14:00Z"]


def test_until_a_date_includes_that_whole_local_day():
    occurrences = series("FREQ=WEEKLY;UNTIL=20300318")

    assert len(occurrences) == 3


def test_until_in_utc_is_honoured():
    occurrences = series("FREQ=WEEKLY;UNTIL=20300318T140000Z")

    assert utc_starts(occurrences)[-1] == "2030-03-18T14:00Z"


def test_a_monthly_rule_naming_a_weekday_picks_those_dates():
    occurrences = series("FREQ=MONTHLY;BYDAY=1TU;COUNT=3")

    assert [o.window_start.date().isoformat() for o in occurrences] == [
        "2030-03-05",
        "2030-04-02",
        "2030-05-07",
    ]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=HOURLY;COUNT=3", "sub_daily"),
        ("FREQ=MINUTELY;COUNT=3", "sub_daily"),
        ("FREQ=DAILY;BYHOUR=9,15;COUNT=4", "time_of_day"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20300401", "invalid_rule"),
        ("FREQ=WEEKLY;INTERVAL=0;COUNT=3", "invalid_rule"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "invalid_rule"),
        ("FREQ=FORTNIGHTLY", "invalid_rule"),
        ("DTSTART:20300101T090000\nRRULE:FREQ=DAILY", "invalid_rule"),
        ("every monday", "invalid_rule"),
    ],
)
def test_rules_repeating_within_a_day_or_unreadable_are_422(rule, reason):
    with pytest.raises(Invalid) as refused:
        series(rule)

    assert refused.value.code == "invalid_recurrence"
    assert refused.value.details[0]["reason"] == reason


def a_series(rule: str, first: str = "2030-03-04T09:00:00-06:00") -> recurrence.Series:
    start = local(first)
    return recurrence.Series(
        series_id="s1",
        job_id="j1",
        rule=rule,
        window_start=start,
        window_end=start + timedelta(hours=1),
        duration_minutes=60,
        timezone=CHICAGO,
        created_by="office",
        created_at=start,
    )


def test_a_series_without_end_is_written_a_quarter_ahead_night_by_night():
    # Given a weekly Monday service with no end, created on its first Monday
    weekly = a_series("FREQ=WEEKLY;BYDAY=MO")
    created = local("2030-03-04T08:00:00-06:00")

    # When it is created: only its first quarter (91 days: 14 Mondays) exists as visits
    first = recurrence.next_occurrences(weekly, recurrence.horizon(weekly, created))
    assert len(first) == 14 and not weekly.ended

    # And each later night writes only what came into the horizon, never twice
    nights = [created + timedelta(days=d) for d in (1, 2, 8)]
    later = [recurrence.next_occurrences(weekly, recurrence.horizon(weekly, n)) for n in nights]
    assert [len(found) for found in later] == [0, 0, 1]
    starts = [o.window_start for o in [*first, *later[2]]]
    assert len(set(starts)) == len(starts) == 15


def test_a_series_ends_with_its_count_and_a_far_first_visit_is_still_written():
    twice = a_series("FREQ=WEEKLY;COUNT=2")
    assert len(recurrence.next_occurrences(twice, FAR)) == 2 and twice.ended

    # A yearly inspection: its first visit is written at once, a year ahead or not
    yearly = a_series("FREQ=YEARLY;COUNT=5", first="2031-06-02T09:00:00-05:00")
    created = local("2030-03-04T08:00:00-06:00")
    assert len(recurrence.next_occurrences(yearly, created + recurrence.AHEAD)) == 1
    assert not yearly.ended


def test_five_years_of_weekly_visits_is_accepted():
    assert len(series("FREQ=WEEKLY;COUNT=260")) == 260


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(CHICAGO)
