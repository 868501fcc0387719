"""Moving over: customers and jobs history from another product's CSV export, and every record
out as JSON Lines."""

from __future__ import annotations

from typing import TypeVar

from chalice import Response
from pydantic import BaseModel, Field, ValidationError

from chalicelib.api.customers import CustomerIn
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import RowProblem, Strict
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.domain.imports import CustomerRow, JobRow, read_customers, read_jobs
from chalicelib.services import exports, imports

api = Api(__name__, "imports")
M = TypeVar("M", bound=BaseModel)

CSV = "text/csv"
NDJSON = "application/x-ndjson"


class CustomerImportQuery(Strict):
    dry_run: bool = Field(
        False, description="Check every row and say what would happen; write nothing"
    )


class ImportOut(BaseModel):
    dry_run: bool
    rows: int = Field(description="Data rows read (blank rows are not counted)")
    valid: int = Field(description="Rows without errors (duplicates included)")
    errors: list[RowProblem]


class CustomerImportOut(ImportOut):
    created: int = Field(description="Customers created (0 in a dry run)")
    skipped_duplicates: int = Field(
        description="Valid rows whose phone (E.164) an existing customer or an earlier row has: "
        "not created (in a dry run: would not be)"
    )


@api.route(
    "/imports/customers",
    "POST",
    roles=STAFF,
    query=CustomerImportQuery,
    response=CustomerImportOut,
    content_types=[CSV],
)
def import_customers(query: CustomerImportQuery, text: str):
    """Create customers from a CSV file: Jobber's or Housecall Pro's client export, or
    `name,phone,email,line1,city,region,postal_code`. Each row is checked as POST /customers
    checks one; a row whose phone a customer already has is skipped, so running a file again
    creates nothing new. Rows with errors are listed and the others imported."""
    rows = [_checked(row) for row in read_customers(text)]
    return imports.import_customers(caller(), rows, query.dry_run)


def _checked(row: CustomerRow) -> CustomerRow:
    """The row's fields as the request model of POST /customers takes them (the same checks)."""
    if row.errors:
        return row
    customer = _validated(row, CustomerIn, row.fields)
    if customer is not None:
        row.fields = customer.model_dump(exclude_none=True)
    return row


def _validated(row: CustomerRow, model: type[M], fields: dict, prefix: str = "") -> M | None:
    """The fields as the request model takes them, or None with each refusal on the row (the
    field named as the file's column: `prefix` + the model's field)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            row.problem(prefix + (str(error["loc"][-1]) if error["loc"] else ""), error["msg"])
        return None


class JobImportOut(ImportOut):
    created: int = Field(description="Jobs created (0 in a dry run)")
    customers_created: int = Field(
        description="Customers added for rows whose phone no customer had (0 in a dry run)"
    )
    skipped_duplicates: int = Field(
        description="Valid rows whose job was imported before (the same job number, else the "
        "same customer, day and title) or is an earlier row's: not created"
    )


class JobHistoryIn(Strict):
    """A job row's text, checked as POST /leads checks a lead's."""

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)


@api.route(
    "/imports/jobs",
    "POST",
    roles=STAFF,
    query=CustomerImportQuery,
    response=JobImportOut,
    content_types=[CSV],
)
def import_jobs(query: CustomerImportQuery, text: str):
    """Bring past jobs in as history from a CSV file: Housecall Pro's or Jobber's job export,
    or `customer_phone,customer_name,title,description,date,status,total,currency`. Each row
    becomes a completed (or cancelled / lost) job of the customer with its phone, added from
    the row's name and phone when there is none, with the total kept as information only (no
    invoice, no payment). Running a file again creates nothing new. Rows with errors are
    listed and the others imported."""
    rows = [_checked_job(row) for row in read_jobs(text)]
    return imports.import_jobs(caller(), rows, query.dry_run)


def _checked_job(row: JobRow) -> JobRow:
    """The row's job text and customer as POST /leads and POST /customers check them (a row
    without a customer name may still name a customer by its phone alone)."""
    if row.errors:
        return row
    text = {"title": row.fields["title"], "description": row.fields["description"] or None}
    _validated(row, JobHistoryIn, text)
    if row.customer["name"]:
        _validated(row, CustomerIn, row.customer, prefix="customer_")
    return row


@api.route("/exports/tenant", "GET", roles=(OWNER,), raw=True)
def export_tenant(request):
    """Every record of the business as JSON Lines (owner only): a first line describing the
    export, then one stored record a line (`type`, `pk`, `sk`, `version`, `data`)."""
    who = caller()
    who.require(OWNER)
    return Response(
        body=exports.tenant_export(who),
        status_code=200,
        headers={
            "Content-Type": f"{NDJSON}; charset=utf-8",
            "Content-Disposition": 'attachment; filename="fieldline-export.jsonl"',
        },
    )
