"""The price book: owner and office write it; technicians read it, without costs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt

from chalicelib.api.enums import ItemKind
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Patch, Strict
from chalicelib.domain.callers import ANYONE, STAFF, Caller
from chalicelib.domain.pricebook import MAX_DURATION_MINUTES, Item
from chalicelib.domain.quotes import MAX_UNIT_PRICE_CENTS
from chalicelib.services import pricebook

api = Api(__name__, "pricebook")

Skill = Annotated[str, Field(min_length=1, max_length=50)]
Cents = Annotated[StrictInt, Field(ge=0, le=MAX_UNIT_PRICE_CENTS)]
Minutes = Annotated[StrictInt, Field(ge=1, le=MAX_DURATION_MINUTES)]


class ItemIn(Strict):
    kind: ItemKind
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
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

    name: str = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
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
