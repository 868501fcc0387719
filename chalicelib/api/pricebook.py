"""The price book: owner and office write it; technicians read it, without costs. The office
exports it as CSV and imports one back (a dry run first says what each row would do)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from chalice import Response
from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationError

from chalicelib.api.enums import ItemKind
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Patch, RowProblem, Strict
from chalicelib.domain.callers import ANYONE, STAFF, Caller
from chalicelib.domain.errors import Invalid
from chalicelib.domain.pricebook import MAX_DESCRIPTION, MAX_DURATION_MINUTES, MAX_NAME, Item
from chalicelib.domain.quotes import MAX_UNIT_PRICE_CENTS
from chalicelib.services import pricebook
from chalicelib.services.pricebook import ImportRow

api = Api(__name__, "pricebook")

Skill = Annotated[str, Field(min_length=1, max_length=50)]
Cents = Annotated[StrictInt, Field(ge=0, le=MAX_UNIT_PRICE_CENTS)]
Minutes = Annotated[StrictInt, Field(ge=1, le=MAX_DURATION_MINUTES)]


class ItemIn(Strict):
    kind: ItemKind
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    unit_price_cents: Cents
    unit_cost_cents: Cents | None = None
    taxable: bool = True
    category: str | None = Field(None, min_length=1, max_length=100)
    duration_minutes: Minutes | None = None
    required_skills: list[Skill] = Field(default_factory=list, max_length=20)
    bookable_online: bool = False


class ItemPatch(Patch):
    """Description, cost, category and duration can be cleared (null); `archived: true`
    archives the item (and `false` brings it back). The kind never changes."""

    name: str = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    unit_price_cents: Cents = None
    unit_cost_cents: Cents | None = None
    taxable: bool = None
    category: str | None = Field(None, min_length=1, max_length=100)
    duration_minutes: Minutes | None = None
    required_skills: list[Skill] = Field(None, max_length=20)
    bookable_online: bool = None
    archived: bool = None


class ItemOut(Out):
    id: str = Field(validation_alias="item_id")
    kind: ItemKind
    name: str
    description: str | None
    currency: str
    unit_price_cents: int
    unit_cost_cents: int | None = Field(
        None, description="Owner and office only: null for a technician (and when unknown)"
    )
    margin_cents: int | None = Field(
        None, description="Price less cost; owner and office only, null when the cost is unknown"
    )
    taxable: bool
    category: str | None
    duration_minutes: int | None
    required_skills: list[str]
    bookable_online: bool
    archived: bool
    created_at: datetime
    updated_at: datetime
    version: int


class ItemPage(PageOut[ItemOut]):
    pass


class ItemQuery(ListQuery):
    q: str | None = Field(None, max_length=200, description="A prefix of the name, any case")
    kind: ItemKind | None = None
    category: str | None = Field(None, min_length=1, max_length=100)
    archived: bool = Field(False, description="List archived items instead of active ones")


def view(who: Caller, item: Item) -> dict:
    """The item as the caller may see it: costs and margins are the office's business."""
    shown = {**item.model_dump(), "margin_cents": item.margin_cents}
    if who.is_technician:
        shown["unit_cost_cents"] = shown["margin_cents"] = None
    return shown


@api.route("/pricebook/items", "POST", roles=STAFF, body=ItemIn, response=ItemOut, status=201)
def create_item(body: ItemIn):
    """Add an item to the price book, priced in the business's currency."""
    return view(caller(), pricebook.create(caller(), body.model_dump()))


@api.route("/pricebook/items", "GET", roles=ANYONE, query=ItemQuery, response=ItemPage)
def list_items(query: ItemQuery):
    """Items by name, or by a prefix of their name (`q`), of one kind or category."""
    who = caller()
    found = pricebook.search(
        who, query.q, query.kind, query.category, query.archived, query.cursor, query.limit
    )
    return {"items": [view(who, item) for item in found.items], "next_cursor": found.next_cursor}


@api.route("/pricebook/items/{item_id}", "GET", roles=ANYONE, response=ItemOut)
def get_item(item_id: str):
    """One item (archived ones too: documents made from them still name them)."""
    who = caller()
    return view(who, pricebook.get_item(who.tenant_id, item_id))


@api.route("/pricebook/items/{item_id}", "PATCH", roles=STAFF, body=ItemPatch, response=ItemOut)
def patch_item(item_id: str, body: ItemPatch, if_match: int | None = None):
    """Change an item; quotes and invoices already made from it keep what they copied."""
    changes = body.model_dump(exclude_unset=True)
    return view(caller(), pricebook.update(caller(), item_id, changes, if_match))


@api.route("/pricebook/items/{item_id}/archive", "POST", roles=STAFF, response=ItemOut)
def archive_item(item_id: str, if_match: int | None = None):
    """Archive an item: it leaves the book's lists and online booking, and is kept for the
    documents that name it (PATCH `archived: false` brings it back)."""
    changes = {"archived": True}
    return view(caller(), pricebook.update(caller(), item_id, changes, if_match))


# --- CSV export and import -------------------------------------------------------------------

CSV = "text/csv"
# The API's field names, so a file reads like the items it holds; money in cents, as everywhere.
COLUMNS = (
    "id",
    "kind",
    "name",
    "description",
    "unit_price_cents",
    "unit_cost_cents",
    "taxable",
    "category",
    "duration_minutes",
    "required_skills",
    "bookable_online",
    "archived",
)
REQUIRED_COLUMNS = ("kind", "name", "unit_price_cents")
MAX_IMPORT_ROWS = 2000  # the too_many_rows code's figure, as the customer import's
SKILLS_SEPARATOR = ";"
MAX_ID = 64
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): exported
# text that does gets a leading apostrophe, which spreadsheets show as text and import removes
# (text that starts with an apostrophe gets one more, so it reads back as it was).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_START = (*FORMULA_START, "'")
YES, NO = ("true", "yes", "y", "1"), ("false", "no", "n", "0")


class ItemRow(ItemIn):
    """A row of an imported file: an item, which the file may also archive or bring back."""

    archived: StrictBool = False


class ItemImportQuery(Strict):
    dry_run: bool = Field(
        False, description="Check every row and say what would change; write nothing"
    )


class ImportedItem(BaseModel):
    row: int
    id: str | None = Field(description="The item's id (null for one a dry run would create)")
    action: Literal["created", "updated", "unchanged"]


class ItemImportOut(BaseModel):
    dry_run: bool
    rows: int
    valid: int = Field(description="Rows without errors")
    errors: list[RowProblem]
    created: int
    updated: int
    unchanged: int
    items: list[ImportedItem]


@api.route("/pricebook/export", "GET", roles=STAFF, raw=True)
def export_items(request):
    """The whole price book as CSV (archived items too), ready to edit and import back."""
    who = caller()
    who.require(*STAFF)
    return Response(
        body=to_csv(pricebook.whole_book(who)),
        status_code=200,
        headers={
            "Content-Type": f"{CSV}; charset=utf-8",
            "Content-Disposition": 'attachment; filename="pricebook.csv"',
        },
    )


@api.route(
    "/pricebook/import",
    "POST",
    roles=STAFF,
    query=ItemImportQuery,
    response=ItemImportOut,
    content_types=[CSV],
)
def import_items(query: ItemImportQuery, text: str):
    """Create or update items from a CSV file (the export's columns): a row with an `id`
    changes that item, one without changes the item of the same kind and name or creates it.
    A dry run reports each row's errors and writes nothing; a real run with any error is a
    422 listing them, and writes nothing."""
    return pricebook.import_items(caller(), read_rows(text), query.dry_run)


def to_csv(items: list[Item]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        shown = {**item.model_dump(), "id": item.item_id}
        writer.writerow([_cell(shown[column]) for column in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = SKILLS_SEPARATOR.join(value)
    text = str(value)
    return f"'{text}" if text.startswith(ESCAPED_START) else text


def read_rows(text: str) -> list[ImportRow]:
    """Each row's fields, typed and checked as a POST of the item would be; a header that
    lacks a required column or names an unknown one is refused whole (422)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        _check_header(header)
        records = list(reader)
    except csv.Error as exc:
        raise Invalid(f"the file is not CSV: {exc}", code="validation_error") from exc
    if len(records) > MAX_IMPORT_ROWS:
        raise Invalid(
            f"a file holds at most {MAX_IMPORT_ROWS} items ({len(records)} here); split it",
            code="too_many_rows",
        )
    present = set(header) - {"id"}
    return [_row(number, record, present) for number, record in enumerate(records, start=2)]


def _check_header(header: list[str]) -> None:
    problems = [
        {"row": 1, "field": name, "message": "unknown column"}
        for name in header
        if name not in COLUMNS
    ] + [
        {"row": 1, "field": name, "message": "missing column"}
        for name in REQUIRED_COLUMNS
        if name not in header
    ]
    if problems:
        raise Invalid(
            f"the header row's columns are not {', '.join(COLUMNS)}",
            problems,
            code="unrecognized_columns",
        )


def _row(number: int, record: dict[str | None, Any], present: set[str]) -> ImportRow:
    row = ImportRow(line=number, fields={}, item_id=(record.get("id") or "").strip() or None)
    if row.item_id and len(row.item_id) > MAX_ID:  # never a key DynamoDB would refuse
        row.errors.append({"row": number, "field": "id", "message": "not an item's id"})
        row.item_id = None
    cells: dict[str, Any] = {}
    for column, raw in record.items():
        text = _uncell(raw if isinstance(raw, str) else "")
        if column is None:
            row.errors.append({"row": number, "field": "", "message": "more cells than columns"})
        elif column != "id" and text:
            try:
                cells[column] = READ.get(column, str)(text)
            except ValueError as exc:
                row.errors.append({"row": number, "field": column, "message": str(exc)})
    try:
        row.fields = ItemRow.model_validate(cells).model_dump(include=present)
    except ValidationError as exc:
        row.errors += [
            {"row": number, "field": str(e["loc"][0]) if e["loc"] else "", "message": e["msg"]}
            for e in exc.errors()
            if not e["loc"] or e["loc"][0] not in {p["field"] for p in row.errors}
        ]
    return row


def _uncell(raw: str) -> str:
    text = raw.strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(ESCAPED_START) else text


def _whole(text: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise ValueError("a whole number (cents, minutes), without a decimal point")
    return int(text)


def _yes_no(text: str) -> bool:
    if text.lower() in YES + NO:
        return text.lower() in YES
    raise ValueError("true or false")


def _skills(text: str) -> list[str]:
    return [skill.strip() for skill in text.split(SKILLS_SEPARATOR) if skill.strip()]


READ = {
    "unit_price_cents": _whole,
    "unit_cost_cents": _whole,
    "duration_minutes": _whole,
    "taxable": _yes_no,
    "bookable_online": _yes_no,
    "archived": _yes_no,
    "required_skills": _skills,
}
