"""Customers: by id, by name or phone prefix, and by exact phone (inbound SMS)."""

from __future__ import annotations

from chalicelib.domain.customers import Customer, SmsOptOut
from chalicelib.store import db, keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item
from chalicelib.store.records import Page, batch_get, entity, get, page, record


def customer_items(tenant_id: str, customer: Customer) -> list[Item]:
    """The customer and its phone search entry; written together in one transaction."""
    cid = customer.customer_id
    main = record(
        keys.customer(tenant_id, cid),
        "customer",
        tenant_id,
        customer,
        gsi1=(keys.customers_index(tenant_id), keys.customer_name_sort(customer.name, cid)),
        gsi2=(keys.phone_lookup(tenant_id, customer.phone), f"CUST#{cid}"),
    )
    phone_entry = Item(
        *keys.customer_phone_entry(tenant_id, cid),
        type="customer_phone",
        tenant_id=tenant_id,
        gsi1pk=keys.customers_index(tenant_id),
        gsi1sk=keys.customer_phone_sort(customer.phone, cid),
        data={"customer_id": cid},
    )
    # The entry follows the customer's version, so both are rewritten under one condition.
    if customer.version is not None:
        phone_entry.version = customer.version
    return [main, phone_entry]


def get_customer(tenant_id: str, customer_id: str) -> Customer | None:
    return get(keys.customer(tenant_id, customer_id), Customer)


def customers_by_id(tenant_id: str, customer_ids: list[str]) -> list[Customer]:
    """The customers that exist of those named, 100 to a BatchGetItem, in no set order."""
    found = batch_get([keys.customer(tenant_id, c) for c in customer_ids])
    return [entity(item, Customer) for item in found]


def search_customers(tenant_id: str, sort_prefix: str, cursor: str | None, limit: int) -> Page:
    """Prefix search on the customers index: name entries and phone entries share it."""
    items, next_cursor = page(
        Item.gsi1,
        keys.customers_index(tenant_id),
        Item.gsi1sk.startswith(sort_prefix),
        tenant_id,
        cursor,
        limit,
    )
    direct = {i.data["customer_id"]: entity(i, Customer) for i in items if i.type == "customer"}
    ids = [item.data["customer_id"] for item in items]
    missing = [keys.customer(tenant_id, c) for c in ids if c not in direct]
    direct.update({i.data["customer_id"]: entity(i, Customer) for i in batch_get(missing)})
    return Page([direct[c] for c in ids if c in direct], next_cursor)


def find_by_phone(
    tenant_id: str, phone: str, limit: int = 10, consistent: bool = False
) -> list[Customer]:
    """Customers of the tenant with this number (a household may share one).

    The index is eventually consistent; `consistent` re-reads the customers it names, for a
    caller about to rewrite them under their version.
    """
    with db.translate_errors():
        results = list(Item.gsi2.query(keys.phone_lookup(tenant_id, phone), limit=limit))
    if consistent:
        ids = [keys.customer(tenant_id, item.data["customer_id"]) for item in results]
        results = batch_get(ids, consistent=True)
    return [entity(item, Customer) for item in results if item.data.as_dict().get("phone") == phone]


def get_opt_out(sender: str, phone: str) -> SmsOptOut | None:
    return get(keys.sms_opt_out(sender, phone), SmsOptOut)


def put_opt_out(tx: Transaction, choice: SmsOptOut) -> None:
    """Record the latest choice for the pair; the last one the carrier saw is the one that holds."""
    key = keys.sms_opt_out(choice.sender, choice.phone)
    actions = [Item.type.set("sms_opt_out"), Item.data.set(choice.model_dump(mode="json"))]
    tx.update(Item(key.pk, key.sk), actions, label="sms opt-out", versioned=False)


def customer_phones(tenant_id: str) -> set[str]:
    """Every phone number of the tenant's customers."""
    return set(customers_by_phone(tenant_id))


def customers_by_phone(tenant_id: str) -> dict[str, str]:
    """Every phone number of the tenant's customers → the id of the first customer with it:
    their phone entries on the customers index (one paged Query, not one per number;
    eventually consistent)."""
    prefix = keys.customer_phone_sort("")
    found: dict[str, str] = {}
    with db.translate_errors():
        entries = Item.gsi1.query(keys.customers_index(tenant_id), Item.gsi1sk.startswith(prefix))
        for entry in entries:
            phone, customer_id = entry.gsi1sk.removeprefix(prefix).rsplit("#", 1)
            found.setdefault(phone, customer_id)
    return found
