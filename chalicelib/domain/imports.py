"""Customers and jobs history from another product's CSV export: which column holds what, and
each row as the fields of a new customer (the API's names), or as the work a past job was.

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

Jobs history (POST /imports/jobs) is read the same way; see `read_jobs` for its columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.currencies import minor_units, require_currency
from chalicelib.domain.errors import FieldlineError, Invalid
from chalicelib.domain.jobs import Job
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.visits import StatusChange, Visit

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
    "customerphone",
    "clientphone",
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
    header, data = _read_csv(text, "customers")
    _check_header(header)
    return [_customer_row(number, dict(zip(header, cells, strict=False))) for number, cells in data]


def _read_csv(text: str, rows_are: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's cells, normalised, and the non-blank data rows with their line numbers."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = [(number, cells) for number, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise Invalid(f"the file is not CSV: {exc}") from exc
    if not lines:
        raise Invalid("the file is empty", code="unrecognized_columns")
    header = [normalised(cell) for cell in lines[0][1]]
    data = [(number, cells) for number, cells in lines[1:] if any(c.strip() for c in cells)]
    if len(data) > MAX_ROWS:
        raise Invalid(
            f"a file holds at most {MAX_ROWS} {rows_are} ({len(data)} here); split it",
            code="too_many_rows",
        )
    return header, data


def _check_header(header: list[str]) -> None:
    names = NAME_COLUMNS + FIRST_NAME_COLUMNS + LAST_NAME_COLUMNS + COMPANY_COLUMNS
    wanted = (("name", names), ("phone", PHONE_COLUMNS))
    _require_columns(header, wanted, "customer", "no name or no phone")


def _require_columns(
    header: list[str], wanted: tuple[tuple[str, tuple[str, ...]], ...], record: str, lacks: str
) -> None:
    """A file whose header has no column for one of the `wanted` fields is refused whole."""
    missing = [
        {"row": 1, "field": name, "message": f"no column for the {record}'s {name}"}
        for name, columns in wanted
        if not set(columns) & set(header)
    ]
    if missing:
        raise Invalid(
            f"the header row has {lacks} column (docs/API.md lists the names read)",
            details=missing,
            code="unrecognized_columns",
        )


def _first(cells: dict[str, str], columns: tuple[str, ...]) -> str:
    """The first of the columns with a value in this row ("" when none has one)."""
    return next((cells[c].strip() for c in columns if (cells.get(c) or "").strip()), "")


def _name_of(cells: dict[str, str]) -> str:
    """The display name, else first and last name, else the company."""
    parts = (_first(cells, FIRST_NAME_COLUMNS), _first(cells, LAST_NAME_COLUMNS))
    full_name = " ".join(p for p in parts if p)
    return _first(cells, NAME_COLUMNS) or full_name or _first(cells, COMPANY_COLUMNS)


def _customer_row(number: int, cells: dict[str, str]) -> CustomerRow:
    def first(columns: tuple[str, ...]) -> str:
        return _first(cells, columns)

    fields: dict[str, Any] = {"name": _name_of(cells), "phone": first(PHONE_COLUMNS)}
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


# --- jobs history -----------------------------------------------------------------------------
# What a job export's columns are called (normalised as above); the first with a value wins.
# Fieldline's own: customer_phone, customer_name, title, description, date, status, total,
# currency. Housecall Pro's job report: Invoice Number (its job number), Date, Created At,
# Customer / First Name / Last Name, Mobile Phone / Home Phone, Description, Job Status, Total
# Amount, Amount Due. Jobber's jobs: Job #, Client name, Title, Instructions, Completed / Visit
# date, Job status, Total ($), Invoice status. docs/API.md says which of these are documented
# and which assumed.
REF_COLUMNS = ("jobnumber", "job", "jobno", "jobid", "invoicenumber", "externalid")
TITLE_COLUMNS = ("title", "jobtitle", "jobname", "jobtype", "service")
DESCRIPTION_COLUMNS = ("description", "jobdescription", "instructions", "notes")
# When the work was done first, then when it was booked, then when the job was made.
DATE_COLUMNS = (
    "completed",
    "completeddate",
    "completedat",
    "finished",
    "finishedat",
    "date",
    "visitdate",
    "scheduleddate",
    "scheduledstart",
    "startdate",
    "createdat",
)
STATUS_COLUMNS = ("status", "jobstatus", "workstatus")
PAYMENT_COLUMNS = ("paymentstatus", "invoicestatus")
TOTAL_COLUMNS = ("total", "totalamount", "jobtotal", "amount", "invoiceamount", "totalrevenue")
DUE_COLUMNS = ("amountdue", "balance", "balancedue", "outstandingbalance")
CURRENCY_COLUMNS = ("currency",)

# A status says what became of the job: imported as completed, cancelled or lost. Open work
# (scheduled, in progress, upcoming...) is no history: it is booked as a job. Housecall Pro's
# work statuses and Jobber's job statuses are among these, normalised.
STAGE_OF_STATUS = {
    **dict.fromkeys(
        ("", "completed", "complete", "completedunrated", "done", "finished", "closed"),
        "completed",
    ),
    **dict.fromkeys(("archived", "requiresinvoicing", "invoiced", "paid", "unpaid"), "completed"),
    **dict.fromkeys(("cancelled", "canceled", "usercanceled", "procanceled"), "cancelled"),
    **dict.fromkeys(("lost", "declined"), "lost"),
}
PAID = ("paid", "paidinfull")
UNPAID = (
    "unpaid",
    "invoiced",
    "requiresinvoicing",
    "awaitingpayment",
    "partiallypaid",
    "pastdue",
    "baddebt",
    "due",
    "open",
)
# A total beyond this is a misread cell, not a job (ten million in major units).
MAX_IMPORTED_CENTS = 10**9
# A visit imported with a date and no time is an all-day ("anytime") visit of this length.
NOMINAL_MINUTES = 60
_AMOUNT = re.compile(r"[^\d\s.,-]{0,3}\s*(?P<units>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?")


@dataclass
class JobRow(CustomerRow):
    """A job row: `customer` is the name and phone it names, `fields` its job cells as text
    (ref, ref_column, title, description, date, status, payment, total, due, currency)."""

    customer: dict[str, str] = field(default_factory=dict)


@dataclass
class History:
    """What a row says happened, in Fieldline's terms."""

    moment: datetime  # UTC; midnight in the tenant's zone when the row gave only a date
    timed: bool
    stage: str
    imported_status: str | None
    total_cents: int | None


def read_jobs(text: str) -> list[JobRow]:
    """Every non-blank row of a job export, its cells mapped (not yet interpreted: the date,
    status and total need the tenant's zone and currency, see `history`). A header without a
    phone, date or title/description column is refused whole (422)."""
    header, data = _read_csv(text, "jobs")
    wanted = (
        ("customer_phone", PHONE_COLUMNS),
        ("date", DATE_COLUMNS),
        ("title", TITLE_COLUMNS + DESCRIPTION_COLUMNS),
    )
    _require_columns(header, wanted, "job", "no phone, date or title")
    return [_job_row(number, dict(zip(header, cells, strict=False))) for number, cells in data]


def _job_row(number: int, cells: dict[str, str]) -> JobRow:
    ref_column = next((c for c in REF_COLUMNS if (cells.get(c) or "").strip()), "")
    description = _first(cells, DESCRIPTION_COLUMNS)
    fields = {
        "ref_column": ref_column,
        "ref": _first(cells, REF_COLUMNS),
        # No title column (Housecall Pro has none): the description's first line is the title.
        "title": _first(cells, TITLE_COLUMNS) or description.partition("\n")[0][:200].strip(),
        "description": description,
        "date": _first(cells, DATE_COLUMNS),
        "status": _first(cells, STATUS_COLUMNS),
        "payment": _first(cells, PAYMENT_COLUMNS),
        "total": _first(cells, TOTAL_COLUMNS),
        "due": _first(cells, DUE_COLUMNS),
        "currency": _first(cells, CURRENCY_COLUMNS),
    }
    row = JobRow(
        number, fields, customer={"name": _name_of(cells), "phone": _first(cells, PHONE_COLUMNS)}
    )
    for required, value in (
        ("customer_phone", row.customer["phone"]),
        ("title", fields["title"]),
        ("date", fields["date"]),
    ):
        if not value:
            row.problem(required, "empty")
    return row


def history(
    row: JobRow, zone: str, currency: str, month_first: bool, now: datetime
) -> History | None:
    """The row's date, stage, payment and total, or None with the row's problems recorded.
    A date with no offset is the tenant's local time; `month_first` reads 03/04/2025 as
    March 4 (a US export) rather than 3 April."""
    cells = row.fields
    checks = (
        ("date", lambda: _moment(cells["date"], zone, month_first, now)),
        ("status", lambda: _stage(cells["status"])),
        ("currency", lambda: _same_currency(cells["currency"], currency)),
        ("total", lambda: _total_cents(cells["total"], currency)),
        ("amount_due", lambda: _total_cents(cells["due"], currency)),
    )
    said = []
    for name, check in checks:
        try:
            said.append(check())
        except FieldlineError as error:
            row.problem(name, error.message)
    if row.errors:
        return None
    (moment, timed), stage, _, total, due = said
    return History(moment, timed, stage, _paid(cells["payment"] or cells["status"], due), total)


def _moment(text: str, zone: str, month_first: bool, now: datetime) -> tuple[datetime, bool]:
    local = ZoneInfo(zone)
    try:
        moment = datetime.combine(date.fromisoformat(text), time())
    except ValueError:
        moment = _date_time(text, month_first)
    # A local midnight is a date alone (03/04/2025 reads as 03/04/2025 00:00).
    timed = moment.tzinfo is not None or moment.time() != time()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local)
    if moment > now:
        raise Invalid("in the future: history is work already done (book it as a job)")
    return moment.astimezone(UTC), timed


def _date_time(text: str, month_first: bool) -> datetime:
    """An ISO 8601 date-time, else what the export's own format reads as (03/04/2025 9:00 AM)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    # python-dateutil is imported here: only a job import pays for it.
    from dateutil import parser

    try:
        return parser.parse(text, dayfirst=not month_first)
    except (ValueError, OverflowError) as exc:
        raise Invalid(f"'{text}' is not a date (YYYY-MM-DD or an ISO date-time)") from exc


def _stage(status: str) -> str:
    stage = STAGE_OF_STATUS.get(normalised(status))
    if stage is None:
        raise Invalid(
            f"'{status}' is open work, not history: completed, cancelled or lost jobs are "
            "imported; book open work as a job"
        )
    return stage


def _paid(word: str, due_cents: int | None) -> str | None:
    """paid or unpaid, from a payment or status word, else from the amount due."""
    key = normalised(word)
    if key in PAID:
        return "paid"
    if key in UNPAID:
        return "unpaid"
    if due_cents is not None:
        return "paid" if due_cents == 0 else "unpaid"
    return None


def _same_currency(row_currency: str, currency: str) -> None:
    """A row's currency, when it says one, is the tenant's: amounts are never converted."""
    if row_currency and require_currency(row_currency) != currency:
        raise Invalid(
            f"the business bills in {currency}; amounts in {row_currency} are not converted",
            code="unsupported_currency",
        )


def _total_cents(text: str, currency: str) -> int | None:
    """A decimal amount in the tenant's currency ("1,234.50", "$89") as integer minor units:
    exact (Decimal, never a float), refused when it has more decimals than the currency."""
    if not text:
        return None
    found = _AMOUNT.fullmatch(text.strip())
    if found is None:
        raise Invalid(f"'{text}' is not an amount")
    amount = Decimal(found["units"].replace(",", "") + (found["fraction"] or ""))
    cents = amount.scaleb(minor_units(currency))
    if cents != cents.to_integral_value():
        raise Invalid(f"'{text}' has more decimals than {currency} has")
    if cents > MAX_IMPORTED_CENTS:
        raise Invalid(f"'{text}' is more than any one job comes to")
    return int(cents)


def history_id(
    ref_column: str, ref: str, phone: str, moment: datetime, zone: str, title: str
) -> str:
    """The imported job's id, the same every time the row is imported: from the export's own
    job number when it has one, else from the customer's phone, the local day and the title.
    Writing the job under it only if absent is what makes running a file again harmless."""
    if ref:
        basis = f"ref|{ref_column}|{ref.strip().casefold()}"
    else:
        day = moment.astimezone(ZoneInfo(zone)).date().isoformat()
        basis = f"row|{phone}|{day}|{' '.join(title.casefold().split())}"
    return "imp" + hashlib.sha256(basis.encode()).hexdigest()[:23]


def imported_job(
    job_id: str,
    customer_id: str,
    said: History,
    row: JobRow,
    currency: str,
    zone: str,
    actor: str,
    now: datetime,
) -> tuple[Job, Visit | None, TimelineEvent]:
    """The job as history: completed (or cancelled / lost), made when the work was, its total
    only informational; a completed one gets its one completed visit, with no technician (so it
    books nobody's day and is on no board). The JobImported event says where it came from."""
    cells = row.fields
    job = Job(
        job_id=job_id,
        customer_id=customer_id,
        title=cells["title"],
        description=cells["description"] or None,
        currency=currency,
        source="import",
        stage=said.stage,
        closed_reason=f"imported as {said.stage}" if said.stage != "completed" else None,
        created_at=said.moment,
        updated_at=now,
        imported_total_cents=said.total_cents,
        imported_status=said.imported_status,
    )
    visit = _completed_visit(job_id, said, zone, actor, now) if said.stage == "completed" else None
    imported = event(
        job_id,
        "JobImported",
        actor,
        customer_id=customer_id,
        title=job.title,
        stage=job.stage,
        date=said.moment.isoformat(),
        ref=cells["ref"] or None,
        row=row.row,
        imported_total_cents=said.total_cents,
        imported_status=said.imported_status,
        currency=currency,
    )
    return job, visit, imported


def _completed_visit(job_id: str, said: History, zone: str, actor: str, now: datetime) -> Visit:
    """At the row's time; a date alone is an all-day window (its local midnights, 23 or 25
    hours apart on a DST change)."""
    start = said.moment
    if said.timed:
        window_end = start + timedelta(minutes=NOMINAL_MINUTES)
    else:
        local = start.astimezone(ZoneInfo(zone))
        next_day = datetime.combine(local.date() + timedelta(days=1), time(), ZoneInfo(zone))
        window_end = next_day.astimezone(UTC)
    done = start + timedelta(minutes=NOMINAL_MINUTES)
    return Visit(
        visit_id=f"{job_id}v",
        job_id=job_id,
        status="completed",
        window_start=start,
        window_end=window_end,
        duration_minutes=NOMINAL_MINUTES,
        start=start,
        timezone=zone,
        history=[StatusChange(status="completed", at=done, actor=actor, note="imported")],
        created_at=now,
        updated_at=now,
    )
