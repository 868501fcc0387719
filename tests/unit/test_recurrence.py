"""Recurring visits: an RRULE on the property's wall clock, bounded, DST-proof."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.recurrence import MAX_OCCURRENCES, expand

CHICAGO = "America/Chicago"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def series(rule: str, first="2030-03-04T09:00:00-06:00", end="2030-03-04T12:00:00-06:00", **kw):
    return expand(rule, local(first), local(end), None, kw.pop("timezone", CHICAGO), **kw)


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
        (f"FREQ=DAILY;COUNT={MAX_OCCURRENCES + 1}", "too_many_occurrences"),
        ("FREQ=WEEKLY", "too_many_occurrences"),
        ("FREQ=MONTHLY;COUNT=14", "beyond_a_year"),
        ("FREQ=YEARLY;UNTIL=20320401", "beyond_a_year"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20300401", "invalid_rule"),
        ("FREQ=WEEKLY;INTERVAL=0;COUNT=3", "invalid_rule"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "invalid_rule"),
        ("FREQ=FORTNIGHTLY", "invalid_rule"),
        ("DTSTART:20300101T090000\nRRULE:FREQ=DAILY", "invalid_rule"),
        ("every monday", "invalid_rule"),
    ],
)
def test_rules_past_the_bounds_or_unreadable_are_422(rule, reason):
    with pytest.raises(Invalid) as refused:
        series(rule)

    assert refused.value.code == "invalid_recurrence"
    assert refused.value.details[0]["reason"] == reason


def test_sixty_weekly_visits_fit_but_not_beyond_a_year():
    assert len(series("FREQ=WEEKLY;COUNT=52")) == 52
    assert len(series("FREQ=DAILY;COUNT=60")) == 60


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(CHICAGO)
