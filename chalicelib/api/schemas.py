"""Request and response models shared by every route (they also feed /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from chalicelib.api.errors import CODES

T = TypeVar("T")


# Coordinates to 6 decimals (about 0.1 m): DynamoDB refuses a number below 1e-130 in magnitude,
# which a float such as 5e-324 is (a 503 once, found by the fuzz test).
Latitude = Annotated[float, Field(ge=-90, le=90), AfterValidator(lambda v: round(v, 6))]
Longitude = Annotated[float, Field(ge=-180, le=180), AfterValidator(lambda v: round(v, 6))]


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a typo or a `tenant_id` is an error, not ignored."""

    # defer_build: a cold start builds only the validators of the route it serves.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class PointIn(Strict):
    lat: Latitude
    lng: Longitude


class Patch(Strict):
    """A JSON Merge Patch (RFC 7396) body: an absent field is left as it is, `null` clears one.

    A field that may be cleared is typed `X | None`. Any other is typed `X` with a default of
    None that is never validated: absent, it is left alone (routes read `exclude_unset`); sent
    as `null`, it is a 422 naming the field, and the document shows it non-nullable.
    """


class LineIn(Strict):
    """A quote's or invoice's line: typed (`description`, `unit_price_cents`, `taxable`), or
    `{item_id, quantity}` from the price book, whose description, price and tax flag (and
    cost, which only the office sees) are copied onto the line as it is added: a later change
    to the item never changes the document. Each document gives `unit_price_cents` its range."""

    item_id: str | None = Field(
        None, min_length=1, max_length=64, description="A price-book item to copy the line from"
    )
    description: str | None = Field(None, min_length=1, max_length=500)
    taxable: StrictBool | None = Field(None, description="A typed line's; default true")

    @model_validator(mode="after")
    def typed_or_from_the_price_book(self):
        typed = (self.description, getattr(self, "unit_price_cents", None), self.taxable)
        if self.item_id is not None and any(v is not None for v in typed):
            raise ValueError("a price-book line takes item_id and quantity only")
        if self.item_id is None and None in typed[:2]:
            raise ValueError("a line needs description and unit_price_cents, or an item_id")
        return self


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class ListQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(
        None,
        max_length=2048,
        description="The previous page's `next_cursor`, with the same filters",
    )


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="The next page's cursor; null on the last page"
    )


ErrorCode = Literal[tuple(CODES)]  # type: ignore[valid-type]


class FieldProblem(BaseModel):
    """What is wrong with one field of the request (422 `validation_error` and others)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})
    field: str = Field(description="Dotted path of the field, e.g. `line_items.0.quantity`")
    message: str


class RowProblem(BaseModel):
    """What is wrong with one row of an imported file (its other rows are still read)."""

    row: int = Field(description="The spreadsheet's row: the header is row 1, the first record 2")
    field: str = Field(description="The column (the record's field); empty for the whole row")
    message: str


class CurrentVersion(BaseModel):
    """The object's version now (409 `version_conflict`): reload it, then retry."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})
    current_version: int


class OtherDetail(BaseModel):
    """Facts about an error a rule gives (the visit a technician is booked on, the allowed
    values, ...); keys depend on the code."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})


class ErrorDetail(BaseModel):
    code: ErrorCode = Field(  # type: ignore[valid-type]
        description="Stable: branch on it.\n\n"
        + "\n".join(f"- `{code}`: {meaning}" for code, meaning in CODES.items()),
        json_schema_extra={"x-enumDescriptions": CODES},
    )
    message: str = Field(description="For a person; may change")
    details: list[FieldProblem | CurrentVersion | OtherDetail] = Field(default_factory=list)


class ErrorOut(BaseModel):
    error: ErrorDetail


Name = Field(min_length=1, max_length=200)
Text = Field(min_length=1, max_length=5000)
