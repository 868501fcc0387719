"""Timesheets and job costing from time entries: the week is the tenant's, DST included."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import timesheets as rules
from chalicelib.domain.errors import Invalid
from chalicelib.domain.invoices import Invoice, InvoiceLine

CHICAGO = "America/Chicago"
NOW = datetime(2026, 3, 20, tzinfo=UTC)


def local(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(CHICAGO))


def entry(kind, start, end, tech="sam", job=None):
    return rules.new_entry(tech, kind, start, end, "office", "office", NOW, job)


def test_a_dst_week_counts_the_hours_that_really_passed():
    # Week 10 of 2026 holds Sunday 8 March, when Chicago's clocks skip from 02:00 to 03:00.
    monday, low, high = rules.week_bounds("2026-W10", CHICAGO)
    assert monday == date(2026, 3, 2)
    assert (high - low).total_seconds() == 167 * 3600
    # A night shift from Saturday 22:00 to Sunday 06:00 on the wall clock is seven hours.
    night = entry("shift", local("2026-03-07", "22:00"), local("2026-03-08", "06:00"))
    sheet = rules.timesheet("sam", [night], monday, CHICAGO, NOW)
    assert sheet.worked_minutes == 7 * 60
    by_day = {d.date.isoformat(): d.worked_minutes for d in sheet.days}
    assert by_day["2026-03-07"] == 120 and by_day["2026-03-08"] == 300


def test_overtime_is_worked_time_past_forty_hours_and_overlaps_count_once():
    monday, _, _ = rules.week_bounds("2026-W11", CHICAGO)
    days = ["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"]
    shifts = [entry("shift", local(d, "07:00"), local(d, "16:30")) for d in days]  # 9.5 h each
    # Visit time inside a shift is not counted twice; an evening call after it is.
    travel = entry("travel", local(days[0], "08:00"), local(days[0], "08:30"), job="j1")
    on_site = entry("on_site", local(days[0], "16:00"), local(days[0], "18:00"), job="j1")
    sheet = rules.timesheet("sam", [*shifts, travel, on_site], monday, CHICAGO, NOW)
    assert sheet.worked_minutes == 5 * 570 + 90
    assert sheet.overtime_minutes == 5 * 570 + 90 - 2400
    assert (sheet.travel_minutes, sheet.on_site_minutes) == (30, 120)


def test_an_open_shift_counts_until_now_and_a_bad_week_is_refused():
    monday, _, _ = rules.week_bounds("2026-W12", CHICAGO)
    now = local("2026-03-16", "10:15").astimezone(UTC)
    open_shift = entry("shift", local("2026-03-16", "08:00"), None)
    assert rules.timesheet("sam", [open_shift], monday, CHICAGO, now).worked_minutes == 135
    for week in ("2026-W54", "2026-10", "W10-2026"):
        with pytest.raises(Invalid):
            rules.week_bounds(week, CHICAGO)


def test_an_entry_ends_after_it_starts_and_lasts_at_most_a_day():
    with pytest.raises(Invalid):
        entry("shift", local("2026-03-09", "09:00"), local("2026-03-09", "08:00"))
    with pytest.raises(Invalid):
        entry("shift", local("2026-03-09", "09:00"), local("2026-03-10", "09:01"))


def test_a_correction_keeps_who_why_and_what_changed():
    shift = entry("shift", local("2026-03-09", "08:00"), local("2026-03-09", "17:00"))
    rules.correct(shift, {"end": local("2026-03-09", "16:00")}, "left early", "office-1", NOW)
    [fix] = shift.history
    assert (fix.by, fix.reason) == ("office-1", "left early")
    assert fix.changes == {"end": ["2026-03-09T22:00:00Z", "2026-03-09T21:00:00Z"]}


def _invoice(invoice_id, kind, lines, tax_bps=1000, status="sent"):
    priced = []
    for description, qty, unit, line_kind, credits, cost in lines:
        amount = qty * unit
        tax = 0 if line_kind == "credit" else amount * tax_bps // 10_000
        line = InvoiceLine(
            description=description,
            quantity=qty,
            unit_price_cents=unit,
            amount_cents=amount,
            tax_cents=tax,
            kind=line_kind,
            credits_invoice_id=credits,
            taxable=line_kind != "credit",
            unit_cost_cents=cost,  # lines priced from the price book carry their cost
        )
        priced.append(line)
    subtotal = sum(line.amount_cents for line in priced)
    tax = sum(line.tax_cents for line in priced)
    return Invoice(
        invoice_id=invoice_id,
        job_id="j1",
        customer_id="c1",
        kind=kind,
        status=status,
        currency="USD",
        tax_rate_bps=tax_bps,
        line_items=priced,
        subtotal_cents=subtotal,
        tax_cents=tax,
        total_cents=subtotal + tax,
        created_by="office",
        created_at=NOW,
        updated_at=NOW,
    )


def test_job_cost_is_labour_at_each_rate_plus_materials_against_billing_before_tax():
    # A 300.00 deposit (+10 % tax), then a final for the 1,200.00 scope that credits it
    # (330.00, its whole total), and a voided invoice that counts for nothing.
    deposit = _invoice("dep", "deposit", [("Deposit", 1, 30_000, "deposit", None, None)])
    final = _invoice(
        "fin",
        "final",
        [
            ("Water heater", 1, 100_000, "scope", None, 62_000),
            ("Labour", 4, 5_000, "scope", None, None),
            ("Less deposit", 1, -33_000, "credit", "dep", None),
        ],
    )
    void = _invoice("old", "final", [("Old", 1, 99_999, "scope", None, 50_000)], status="void")
    # Sam (45.00/h) 2 h 20 min on the job, Lee (30.00/h) 1 h 10 min.
    work = [
        entry("on_site", local("2026-03-09", "09:00"), local("2026-03-09", "11:20"), "sam", "j1"),
        entry("travel", local("2026-03-09", "08:20"), local("2026-03-09", "09:30"), "lee", "j1"),
    ]
    cost = rules.job_cost("j1", work, {"sam": 4_500, "lee": 3_000}, [deposit, final, void])
    assert cost.labour_minutes == 210
    assert cost.labour_cents == 10_500 + 3_500  # 140 min x 45.00/h + 70 min x 30.00/h
    assert cost.materials_cents == 62_000
    assert cost.invoiced_cents == 120_000  # the scope, tax excluded, counted once
    assert cost.margin_cents == 120_000 - 14_000 - 62_000
