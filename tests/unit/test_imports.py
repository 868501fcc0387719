"""Reading another product's customer or job export: which column is which, and each row's
fields; a job row as history (its date in the tenant's zone, stage, exact total)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.imports import (
    MAX_ROWS,
    JobRow,
    history,
    history_id,
    imported_job,
    read_customers,
    read_jobs,
)

PLAIN = """name,phone,email,line1,city,region,postal_code
Dana Whitfield,(312) 555-0142,dana@example.com,1200 W Fulton St,Chicago,IL,60607
"""

# Housecall Pro's customer export names the contact fields like its customer record
# (first/last name, display name, mobile and home numbers) and the address Street/City/State/Zip.
HOUSECALL_PRO = (
    (
        "First Name,Last Name,Display Name,Email,Company,Mobile Number,Home Number,"
        "Street,Street Line 2,City,State,Zip,Customer Tags\n"
    )
    + """Ana,Lopez,,ana@example.com,,,312-555-0150,77 W Lake St,Apt 2,Chicago,IL,60601,vip
Ben,Ortiz,Ben's Bakery,ben@example.com,Ben's Bakery,(312) 555-0151,312-555-0199,,,,,,
"""
)

# Jobber's client export: company name, main/mobile phones, e-mails, the billing address.
JOBBER = (
    (
        "Company Name,First Name,Last Name,E-mails,Main Phone,Mobile Phone,"
        "Billing Street 1,Billing City,Billing State,Billing Zip code\n"
    )
    + (
        'Acme Rentals,,,"ops@acme.example, billing@acme.example",312-555-0160,,'
        "9 N State St,Chicago,IL,60602\n"
    )
    + """,Cory,Park,cory@example.com,312-555-0161,312-555-0162,,,,
"""
)


def test_plain_columns_are_the_api_fields():
    (row,) = read_customers(PLAIN)
    assert row.row == 2 and row.errors == []
    assert row.fields == {
        "name": "Dana Whitfield",
        "phone": "(312) 555-0142",
        "email": "dana@example.com",
        "address": {
            "line1": "1200 W Fulton St",
            "city": "Chicago",
            "region": "IL",
            "postal_code": "60607",
        },
    }


def test_housecall_pro_rows_take_the_display_name_else_first_and_last_and_the_mobile_first():
    ana, ben = read_customers(HOUSECALL_PRO)
    assert ana.fields["name"] == "Ana Lopez"
    assert ana.fields["phone"] == "312-555-0150"  # no mobile: the home number
    assert ana.fields["address"] == {
        "line1": "77 W Lake St",
        "line2": "Apt 2",
        "city": "Chicago",
        "region": "IL",
        "postal_code": "60601",
    }
    assert ben.fields["name"] == "Ben's Bakery"
    assert ben.fields["phone"] == "(312) 555-0151"  # the mobile before the home number
    assert "address" not in ben.fields


def test_jobber_rows_fall_back_to_the_company_and_take_the_first_email():
    acme, cory = read_customers(JOBBER)
    assert acme.fields["name"] == "Acme Rentals"
    assert acme.fields["email"] == "ops@acme.example"
    assert acme.fields["address"]["line1"] == "9 N State St"
    assert acme.fields["address"]["postal_code"] == "60602"
    assert cory.fields["name"] == "Cory Park"
    assert cory.fields["phone"] == "312-555-0162"  # mobile before main


def test_a_row_without_a_name_or_phone_says_so_with_its_spreadsheet_row():
    rows = read_customers("name,phone\nDana,312-555-0142\n,\n\nNo Phone,\n,312-555-0143\n")
    # The blank lines are no rows; the others keep their line numbers (the header is row 1).
    assert [(r.row, r.errors) for r in rows] == [
        (2, []),
        (5, [{"row": 5, "field": "phone", "message": "empty"}]),
        (6, [{"row": 6, "field": "name", "message": "empty"}]),
    ]


def test_a_header_without_a_name_or_phone_column_is_refused_whole():
    with pytest.raises(Invalid) as refused:
        read_customers("full name,telephone fax\nDana,312\n")
    assert refused.value.code == "unrecognized_columns"
    assert {d["field"] for d in refused.value.details} == {"phone"}
    with pytest.raises(Invalid) as empty:
        read_customers("")
    assert empty.value.code == "unrecognized_columns"


def test_more_rows_than_one_import_takes_are_refused():
    text = "name,phone\n" + "Dana,312-555-0142\n" * (MAX_ROWS + 1)
    with pytest.raises(Invalid) as refused:
        read_customers(text)
    assert refused.value.code == "too_many_rows"
    assert len(read_customers("name,phone\n" + "Dana,312-555-0142\n" * MAX_ROWS)) == MAX_ROWS


# --- jobs history -----------------------------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CHICAGO = "America/Chicago"


def one_job(text: str) -> JobRow:
    (row,) = read_jobs(text)
    return row


def said(text: str, currency: str = "USD", month_first: bool = True):
    row = one_job(text)
    return row, history(row, CHICAGO, currency, month_first, NOW)


def test_plain_job_columns_name_the_customer_and_the_work():
    row = one_job(
        "customer_phone,customer_name,title,description,date,status,total,currency\n"
        "(312) 555-0142,Dana Whitfield,Water heater,40 gal swap,2024-11-03,paid,"
        '"1,234.50",USD\n'
    )
    assert row.errors == []
    assert row.customer == {"name": "Dana Whitfield", "phone": "(312) 555-0142"}
    assert (row.fields["title"], row.fields["date"], row.fields["total"]) == (
        "Water heater",
        "2024-11-03",
        "1,234.50",
    )


def test_a_date_alone_is_the_tenants_local_midnight_across_a_dst_change():
    # 3 Nov 2024: Chicago falls back from CDT (-5) to CST (-6) at 2 a.m.; midnight is still CDT.
    _, what = said("phone,title,date\n312-555-0142,Tune-up,2024-11-03\n")
    assert what.moment == datetime(2024, 11, 3, 5, 0, tzinfo=UTC) and not what.timed
    # The all-day visit ends at the next local midnight: 25 hours later, in CST.
    row = one_job("phone,title,date\n312-555-0142,Tune-up,2024-11-03\n")
    _, visit, _ = imported_job("imp1", "c1", what, row, "USD", CHICAGO, "u1", NOW)
    assert visit.window_end - visit.window_start == timedelta(hours=25)
    assert visit.status == "completed" and visit.technician_ids == []


def test_a_date_time_without_an_offset_is_local_and_a_us_export_reads_month_first():
    _, iso = said("phone,title,date\n312-555-0142,Tune-up,2025-03-04T09:30\n")
    assert iso.moment == datetime(2025, 3, 4, 15, 30, tzinfo=UTC) and iso.timed
    _, us = said("phone,title,date\n312-555-0142,Tune-up,03/04/2025 9:30 AM\n")
    assert us.moment == iso.moment
    _, elsewhere = said("phone,title,date\n312-555-0142,Tune-up,03/04/2025\n", month_first=False)
    assert elsewhere.moment.month == 4 and not elsewhere.timed  # a date alone: an all-day visit


def test_totals_are_exact_minor_units_of_the_tenants_currency():
    _, usd = said('phone,title,date,total\n312-555-0142,A,2025-01-02,"$1,234.50"\n')
    assert usd.total_cents == 123450
    _, yen = said("phone,title,date,total\n312-555-0142,A,2025-01-02,15000\n", currency="JPY")
    assert yen.total_cents == 15000
    for bad, message in (("12.345", "more decimals"), ("about 40", "not an amount")):
        row, none = said(f"phone,title,date,total\n312-555-0142,A,2025-01-02,{bad}\n")
        assert none is None and message in row.errors[0]["message"]
    row, none = said("phone,title,date,total\n312-555-0142,A,2025-01-02,12.5\n", currency="JPY")
    assert none is None and row.errors[0]["field"] == "total"


def test_a_total_in_another_currency_is_the_rows_error_once():
    text = "phone,title,date,total,amount due,currency\n312-555-0142,A,2025-01-02,10,0,EUR\n"
    row, none = said(text)
    assert none is None and [e["field"] for e in row.errors] == ["currency"]


@pytest.mark.parametrize(
    ("status", "payment", "stage", "paid"),
    [
        ("", "", "completed", None),
        ("Complete", "", "completed", None),
        ("paid", "", "completed", "paid"),
        ("Requires Invoicing", "", "completed", "unpaid"),
        ("Archived", "Paid", "completed", "paid"),
        ("Pro Canceled", "", "cancelled", None),
        ("lost", "", "lost", None),
    ],
)
def test_statuses_of_housecall_pro_jobber_and_the_plain_form(status, payment, stage, paid):
    header = "phone,title,date,job status,payment status\n"
    _, what = said(f"{header}312-555-0142,A,2025-01-02,{status},{payment}\n")
    assert (what.stage, what.imported_status) == (stage, paid)


def test_open_work_and_future_dates_are_no_history():
    row, none = said("phone,title,date,status\n312-555-0142,A,2025-01-02,Scheduled\n")
    assert none is None and row.errors[0]["field"] == "status"
    row, none = said("phone,title,date\n312-555-0142,A,2025-07-01\n")
    assert none is None and "future" in row.errors[0]["message"]


def test_the_amount_due_says_paid_when_nothing_is_due():
    _, what = said("phone,title,date,total,amount due\n312-555-0142,A,2025-01-02,200,0.00\n")
    assert what.imported_status == "paid"
    _, what = said("phone,title,date,total,amount due\n312-555-0142,A,2025-01-02,200,50\n")
    assert what.imported_status == "unpaid"


def test_housecall_pro_job_rows_take_the_invoice_number_and_the_description_as_title():
    row = one_job(
        "Invoice Number,Created At,Date,Customer,First Name,Last Name,Mobile Phone,"
        "Home Phone,Description,Job Status,Total Amount,Amount Due\n"
        "1042,2024-10-01,2024-10-05 10:00,,Ana,Lopez,,312-555-0150,"
        '"Replace anode rod\nand flush tank",complete,189.00,0\n'
    )
    assert row.errors == []
    assert row.customer == {"name": "Ana Lopez", "phone": "312-555-0150"}
    assert row.fields["ref"] == "1042" and row.fields["title"] == "Replace anode rod"
    assert row.fields["date"] == "2024-10-05 10:00"  # when booked, not when the job was made


def test_jobber_job_rows_take_the_job_number_title_and_completed_date():
    row = one_job(
        "Job #,Client name,Client phone,Title,Instructions,Completed,Job status,Total ($)\n"
        "77,Acme Rentals,312-555-0160,Spring cleanup,Gate code 1234,2025-04-20,Archived,450\n"
    )
    assert row.fields["ref"] == "77" and row.fields["title"] == "Spring cleanup"
    assert row.customer == {"name": "Acme Rentals", "phone": "312-555-0160"}
    assert row.fields["description"] == "Gate code 1234" and row.fields["total"] == "450"


def test_the_same_job_gets_the_same_id_and_another_job_another():
    moment = datetime(2025, 1, 2, 6, 0, tzinfo=UTC)
    by_row = history_id("", "", "+13125550142", moment, CHICAGO, "Water  Heater")
    assert by_row == history_id("", "", "+13125550142", moment, CHICAGO, "water heater")
    assert by_row != history_id("", "", "+13125550142", moment, CHICAGO, "Drain")
    assert by_row != history_id("", "", "+13125550143", moment, CHICAGO, "water heater")
    # With a job number the number alone says which job it is.
    by_ref = history_id("jobnumber", "77", "+13125550142", moment, CHICAGO, "A")
    assert by_ref == history_id("jobnumber", "77", "+13125550199", moment, CHICAGO, "B")


def test_a_job_export_without_a_phone_date_or_title_column_is_refused_whole():
    with pytest.raises(Invalid) as refused:
        read_jobs("customer_name,total\nDana,10\n")
    assert refused.value.code == "unrecognized_columns"
    assert {d["field"] for d in refused.value.details} == {"customer_phone", "date", "title"}
