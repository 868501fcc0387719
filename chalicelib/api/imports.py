"""Moving over: customers from another product's CSV export, and every record out as JSON Lines."""

from __future__ import annotations

from chalice import Response
from pydantic import BaseModel, Field, ValidationError

from chalicelib.api.customers import CustomerIn
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import RowProblem, Strict
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.domain.imports import CustomerRow, read_customers
from chalicelib.services import exports, imports

api = Api(__name__, "imports")

CSV = "text/csv"
NDJSON = "application/x-ndjson"


class CustomerImportQuery(Strict):
    dry_run: bool = Field(
        False, description="Check every row and say what would happen; write nothing"
    )


class CustomerImportOut(BaseModel):
    dry_run: bool
    rows: int = Field(description="Data rows read (blank rows are not counted)")
    valid: int = Field(description="Rows without errors (duplicates included)")
    created: int = Field(description="Customers created (0 in a dry run)")
    skipped_duplicates: int = Field(
        description="Valid rows whose phone (E.164) an existing customer or an earlier row has: "
        "not created (in a dry run: would not be)"
    )
    errors: list[RowProblem]


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
    try:
        row.fields = CustomerIn.model_validate(row.fields).model_dump(exclude_none=True)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            row.problem(str(error["loc"][-1]) if error["loc"] else "", error["msg"])
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
