"""Customers from another product's CSV export: which column holds what, and each row as the
fields of a new customer (the API's names), before the API's own checks.

Three shapes of header are read, matched without regard to case, spaces or punctuation:

- Fieldline's own: `name,phone,email,line1,city,region,postal_code` (and `line2`).
- Housecall Pro's customer exports: `First Name`, `Last Name`, `Display Name` / `Customer`,
  `Company`, `Email`, `Mobile Number` / `Mobile Phone`, `Home Number` / `Home Phone`,
  `Work Number`, `Street`, `Street Line 2`, `City`, `State`, `Zip`.
- Jobber's client exports: `First Name`, `Last Name`, `Company Name`, `Main Phone`,
  `Mobile Phone`, `Work Phone`, `Home Phone`, `E-mail` / `Email`, `Billing Street 1`,
  `Billing Street 2`, `Billing City`, `Billing State` / `Billing Province`, `Billing Zip` /
  `Billing Postal Code` (or the `Service …` / `Property …` address).

The name is the display name, else first and last name, else the company. The phone is the
first one given of mobile, main, plain, home, work (Fieldline texts its customers). An email
cell holding several addresses gives the first.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import Invalid

MAX_ROWS = 2000
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code")
# A header cell, normalised (lower case, letters and digits only) → the field it holds. Where
# several columns give one field, the first listed that has a value wins.
NAME_COLUMNS = ("name", "displayname", "customer", "customername", "clientname", "fullname")
FIRST_NAME_COLUMNS = ("firstname",)
LAST_NAME_COLUMNS = ("lastname",)
COMPANY_COLUMNS = ("company", "companyname")
PHONE_COLUMNS = (
    "mobilephone",
    "mobilenumber",
    "mobile",
    "cellphone",
    "mainphone",
    "phone",
    "phonenumber",
    "homephone",
    "homenumber",
    "workphone",
    "worknumber",
)
EMAIL_COLUMNS = ("email", "emails", "emailaddress")
_ADDRESS_PREFIXES = ("", "billing", "service", "property")
_ADDRESS_NAMES = {
    "line1": ("line1", "street", "street1", "address", "addressline1", "streetaddress"),
    "line2": ("line2", "street2", "streetline2", "addressline2"),
    "city": ("city",),
    "region": ("region", "state", "province", "provincestate"),
    "postal_code": ("postalcode", "zip", "zipcode", "postcode"),
}
ADDRESS_COLUMNS = {
    name: tuple(prefix + column for prefix in _ADDRESS_PREFIXES for column in columns)
    for name, columns in _ADDRESS_NAMES.items()
}


@dataclass
class CustomerRow:
    """One data row: its line in the spreadsheet (the header is row 1), the customer's fields
    as POST /customers takes them, and what is wrong with it."""

    row: int
    fields: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, column: str, message: str) -> None:
        self.errors.append({"row": self.row, "field": column, "message": message})


def normalised(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def read_customers(text: str) -> list[CustomerRow]:
    """Every non-blank data row of the file, mapped; a file whose header has no name or no
    phone column, or with more than MAX_ROWS rows, is refused whole (422)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = [(number, cells) for number, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise Invalid(f"the file is not CSV: {exc}") from exc
    if not lines:
        raise Invalid("the file is empty", code="unrecognized_columns")
    header = [normalised(cell) for cell in lines[0][1]]
    _check_header(header)
    data = [(number, cells) for number, cells in lines[1:] if any(c.strip() for c in cells)]
    if len(data) > MAX_ROWS:
        raise Invalid(
            f"a file holds at most {MAX_ROWS} customers ({len(data)} here); split it",
            code="too_many_rows",
        )
    return [_customer_row(number, dict(zip(header, cells, strict=False))) for number, cells in data]


def _check_header(header: list[str]) -> None:
    names = NAME_COLUMNS + FIRST_NAME_COLUMNS + LAST_NAME_COLUMNS + COMPANY_COLUMNS
    missing = [
        {"row": 1, "field": wanted, "message": f"no column for the customer's {wanted}"}
        for wanted, columns in (("name", names), ("phone", PHONE_COLUMNS))
        if not set(columns) & set(header)
    ]
    if missing:
        raise Invalid(
            "the header row has no name or no phone column (docs/API.md lists the names read)",
            details=missing,
            code="unrecognized_columns",
        )


def _customer_row(number: int, cells: dict[str, str]) -> CustomerRow:
    def first(columns: tuple[str, ...]) -> str:
        return next((cells[c].strip() for c in columns if (cells.get(c) or "").strip()), "")

    full_name = " ".join(p for p in (first(FIRST_NAME_COLUMNS), first(LAST_NAME_COLUMNS)) if p)
    fields: dict[str, Any] = {
        "name": first(NAME_COLUMNS) or full_name or first(COMPANY_COLUMNS),
        "phone": first(PHONE_COLUMNS),
    }
    email = re.split(r"[,;\s]+", first(EMAIL_COLUMNS))[0]
    if email:
        fields["email"] = email
    address = {name: first(columns) for name, columns in ADDRESS_COLUMNS.items()}
    if any(address.values()):
        fields["address"] = {name: value for name, value in address.items() if value}
    row = CustomerRow(number, fields)
    for required in ("name", "phone"):
        if not fields[required]:
            row.problem(required, "empty")
    return row
