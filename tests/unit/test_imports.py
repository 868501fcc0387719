"""Reading another product's customer export: which column is which, and each row's fields."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.imports import MAX_ROWS, read_customers

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
