"""Customers: create, find by name or phone prefix, update."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import Caller
from chalicelib.domain.customers import Customer, SmsOptOut
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import search_prefix, to_e164
from chalicelib.domain.tenants import Tenant, require_timezone
from chalicelib.services.common import check_version, found
from chalicelib.services.tenants import get_settings
from chalicelib.store import customers as store
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.records import Page


def new_customer(fields: dict[str, Any], region: str) -> Customer:
    """A validated customer not yet saved (a lead may create one in its own transaction)."""
    fields["phone"] = to_e164(fields["phone"], region)
    if fields.get("timezone"):
        require_timezone(fields["timezone"])
    return Customer(customer_id=new_id(), created_at=clock.now(), **fields)


def add_to(tx: Transaction, caller: Caller, customer: Customer) -> None:
    main, phone_entry = store.customer_items(caller.tenant_id, customer)
    tx.put(main, entity=customer, label="customer")
    tx.put(phone_entry, label="customer phone")


def create(caller: Caller, fields: dict[str, Any]) -> Customer:
    customer = new_customer(fields, get_settings(caller).country)
    tx = Transaction()
    add_to(tx, caller, customer)
    tx.commit()
    return customer


def get(caller: Caller, customer_id: str) -> Customer:
    return found(store.get_customer(caller.tenant_id, customer_id), "customer")


def search(caller: Caller, q: str | None, cursor: str | None, limit: int) -> Page:
    query = (q or "").strip()
    phone = search_prefix(query, get_settings(caller).country) if query else None
    if phone:
        prefix = keys.customer_phone_sort(phone)
    else:
        prefix = keys.customer_name_sort(query) if query else "NAME#"
    return store.search_customers(caller.tenant_id, prefix, cursor, limit)


def update(
    caller: Caller, customer_id: str, changes: dict[str, Any], if_match: int | None
) -> Customer:
    customer = get(caller, customer_id)
    check_version(customer.version, if_match)
    if changes.get("phone"):
        changes["phone"] = to_e164(changes["phone"], get_settings(caller).country)
    if changes.get("timezone"):
        require_timezone(changes["timezone"])
    updated = Customer.model_validate({**customer.model_dump(), **changes})
    tx = Transaction()
    add_to(tx, caller, updated)
    tx.commit()
    return updated


# --- opting out of texts ----------------------------------------------------------------------


def opted_out_of(sender: str, phone: str) -> bool:
    """Whether the phone opted out of texts from this sender (the carrier would refuse them)."""
    choice = store.get_opt_out(sender, phone)
    return choice is not None and choice.opted_out


def record_opt_out(
    tx: Transaction, tenant: Tenant | None, sender: str, phone: str, opted_out: bool, source: str
) -> list[Customer]:
    """Add the phone's choice about texts from `sender` to `tx`; returns the customers changed.

    The choice is kept for the (sender, phone) pair, as the carrier keeps it, so every tenant
    texting from that sender honours it (the shared default sender serves many). When the
    sender is the tenant's own number it is also the choice of the tenant's customers with that
    phone, which the office sees on each of them.
    """
    choice = SmsOptOut(
        sender=sender, phone=phone, opted_out=opted_out, source=source, at=clock.now()
    )
    store.put_opt_out(tx, choice)
    if tenant is None or sender != tenant.twilio_from_number:
        return []
    customers = store.find_by_phone(tenant.tenant_id, phone, consistent=True)
    for customer in customers:
        customer.sms_opted_out = opted_out
        main, phone_entry = store.customer_items(tenant.tenant_id, customer)
        tx.put(main, entity=customer, label="customer")
        tx.put(phone_entry, label="customer phone")
    return customers
