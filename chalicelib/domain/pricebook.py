"""The price book: what the business sells (services, materials, fees) at what price.

An item is a template, never a reference: a quote or invoice line made from it copies its
description, price and tax flag (and its cost, for job costing) when the line is added, so a
later change to the item never touches a document already written. Items are archived, never
deleted: old documents and imports still name them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from chalicelib.domain.errors import Invalid
from chalicelib.domain.money import LineItem

KINDS = ("service", "material", "fee")
SERVICE = "service"
# Only a service takes time on site: these fields mean nothing on a material or a fee.
SERVICE_ONLY = ("duration_minutes", "required_skills", "bookable_online")
MAX_DURATION_MINUTES = 24 * 60
# A line's description is the item's name and description; together they fit a line's 500.
MAX_NAME, MAX_DESCRIPTION = 200, 280


class Item(BaseModel):
    item_id: str
    kind: str
    name: str
    description: str | None = None
    currency: str
    unit_price_cents: int
    unit_cost_cents: int | None = None
    taxable: bool = True
    category: str | None = None
    duration_minutes: int | None = None
    required_skills: list[str] = Field(default_factory=list)
    bookable_online: bool = False
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    version: int | None = None

    @property
    def bookable(self) -> bool:
        """Customers may book it themselves (online booking offers it)."""
        return self.kind == SERVICE and self.bookable_online and not self.archived

    @property
    def margin_cents(self) -> int | None:
        """What one unit earns over its cost; unknown without a cost."""
        if self.unit_cost_cents is None:
            return None
        return self.unit_price_cents - self.unit_cost_cents


def check_item(item: Item) -> Item:
    """An item's fields agree with its kind; 422 naming each field that does not."""
    problems: list[dict[str, Any]] = []
    if item.kind not in KINDS:
        problems.append({"field": "kind", "message": f"one of {', '.join(KINDS)}"})
    if item.kind != SERVICE:
        problems += [
            {"field": name, "message": f"only a service has {name.replace('_', ' ')}"}
            for name in SERVICE_ONLY
            if getattr(item, name)
        ]
    elif item.bookable_online and not item.duration_minutes:
        problems.append(
            {"field": "duration_minutes", "message": "a service booked online needs a duration"}
        )
    if problems:
        raise Invalid("the item's fields do not fit its kind", details=problems)
    item.required_skills = sorted(set(item.required_skills))
    return item


def search_name(name: str) -> str:
    """The form of a name that prefix search compares: case and outer spaces ignored."""
    return " ".join(name.lower().split())


# --- lines made from items --------------------------------------------------------------------


def line_from_item(item: Item, quantity: int, currency: str) -> LineItem:
    """A document's line copied from the item as it is now: what the customer is shown and
    charged never follows a later change to the item."""
    if item.archived:
        raise Invalid(
            f"the price-book item '{item.name}' is archived",
            details=[{"field": "item_id", "message": "archived", "item_id": item.item_id}],
        )
    if item.currency != currency:
        raise Invalid(
            f"the item is priced in {item.currency}, the job in {currency}",
            details=[{"field": "item_id", "message": "another currency", "item_id": item.item_id}],
        )
    return LineItem(
        description=f"{item.name}: {item.description}" if item.description else item.name,
        quantity=quantity,
        unit_price_cents=item.unit_price_cents,
        taxable=item.taxable,
        item_id=item.item_id,
        unit_cost_cents=item.unit_cost_cents,
    )


class CostedLine(Protocol):
    """A quote's or an invoice's line (read only)."""

    @property
    def quantity(self) -> int: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def unit_cost_cents(self) -> int | None: ...


def margin_cents(lines: Iterable[CostedLine]) -> int | None:
    """What the lines earn over their cost, counting only lines whose cost is known; None when
    no line's cost is known (a margin over nothing would read as pure profit)."""
    costed = [line for line in lines if line.unit_cost_cents is not None]
    if not costed:
        return None
    return sum(line.amount_cents - line.quantity * line.unit_cost_cents for line in costed)
