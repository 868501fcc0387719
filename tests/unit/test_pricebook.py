"""Price-book rules: fields that fit the kind, lines copied from items, margins, and the CSV
file the office edits (any text survives export and import; none runs as a formula)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import Invalid
from chalicelib.domain.pricebook import Item, check_item, line_from_item, margin_cents
from chalicelib.domain.quotes import price_option

NOW = datetime(2030, 6, 3, tzinfo=UTC)


def item(**fields) -> Item:
    given_fields = {
        "item_id": "i1",
        "kind": "service",
        "name": "Drain cleaning",
        "currency": "USD",
        "unit_price_cents": 18900,
        "unit_cost_cents": 4500,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Item(**given_fields)


@pytest.mark.parametrize("field", ["duration_minutes", "required_skills", "bookable_online"])
def test_only_a_service_takes_time_skills_or_online_booking(field):
    value = {"duration_minutes": 30, "required_skills": ["gas"], "bookable_online": True}[field]

    with pytest.raises(Invalid) as refused:
        check_item(item(kind="material", **{field: value}))

    assert [d["field"] for d in refused.value.details] == [field]


def test_a_service_booked_online_needs_a_duration_and_its_skills_are_a_set():
    with pytest.raises(Invalid):
        check_item(item(bookable_online=True))

    checked = check_item(item(duration_minutes=60, required_skills=["gas", "plumbing", "gas"]))

    assert checked.required_skills == ["gas", "plumbing"]


def test_a_line_copies_the_item_as_it_is_now():
    drain = item(description="Clear one line", taxable=False)

    line = line_from_item(drain, 2, "USD")
    drain.unit_price_cents, drain.name = 1, "Renamed"

    assert (line.description, line.quantity, line.unit_price_cents, line.taxable) == (
        "Drain cleaning: Clear one line",
        2,
        18900,
        False,
    )
    assert (line.item_id, line.unit_cost_cents) == ("i1", 4500)


def test_an_archived_item_or_one_in_another_currency_makes_no_line():
    with pytest.raises(Invalid):
        line_from_item(item(archived=True), 1, "USD")
    with pytest.raises(Invalid):
        line_from_item(item(), 1, "EUR")


def test_margin_counts_only_lines_whose_cost_is_known():
    lines = [
        line_from_item(item(), 1, "USD"),  # 18900 - 4500
        line_from_item(item(item_id="i2", unit_price_cents=125, unit_cost_cents=40), 10, "USD"),
        line_from_item(item(item_id="i3", unit_cost_cents=None), 3, "USD"),
    ]

    option = price_option("Costed", lines, 825, None)

    assert option.margin_cents == 14400 + 850
    assert margin_cents(line_from_item(item(unit_cost_cents=None), 1, "USD") for _ in "x") is None


# --- the CSV file ----------------------------------------------------------------------------

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).map(lambda s: " ".join(s.split()))  # the API strips and a name is compared spaced as typed


@settings(max_examples=200, deadline=None)
@given(
    name=TEXT.filter(lambda s: 0 < len(s) <= 200),
    description=st.none() | TEXT.filter(lambda s: 0 < len(s) <= 280),
    category=st.none() | TEXT.filter(lambda s: 0 < len(s) <= 100),
    price=st.integers(0, 10**9),
    cost=st.none() | st.integers(0, 10**9),
)
def test_any_item_exported_reads_back_as_the_same_fields(name, description, category, price, cost):
    from chalicelib.api.pricebook import COLUMNS, read_rows, to_csv

    original = item(
        name=name,
        description=description,
        category=category,
        unit_price_cents=price,
        unit_cost_cents=cost,
        duration_minutes=45,
        required_skills=["gas", "plumbing"],
    )

    (row,) = read_rows(to_csv([original]))

    assert row.errors == []
    assert row.item_id == original.item_id
    assert row.fields == original.model_dump(include=set(row.fields))
    assert set(row.fields) == set(COLUMNS) - {"id"}


@settings(max_examples=100, deadline=None)
@given(name=TEXT.filter(lambda s: 0 < len(s) <= 200))
def test_no_exported_cell_starts_a_spreadsheet_formula(name):
    from chalicelib.api.pricebook import to_csv

    (header, row) = list(csv.reader(io.StringIO(to_csv([item(name=name, description=name)]))))

    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
