"""The price book: what the business sells (services, materials, fees) at what price.

An item is a template, never a reference: a quote or invoice line made from it copies its
description, price and tax flag (and its cost, for job costing) when the line is added, so a
later change to the item never touches a document already written. Items are archived, never
deleted: old documents and imports still name them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain.errors import Invalid

KINDS = ("service", "material", "fee")
SERVICE = "service"
# Only a service takes time on site: these fields mean nothing on a material or a fee.
SERVICE_ONLY = ("duration_minutes", "required_skills", "bookable_online")
MAX_DURATION_MINUTES = 24 * 60


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
