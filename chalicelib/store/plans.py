"""Service plans and enrolments, and the index of enrolments with something due."""

from __future__ import annotations

from chalicelib.domain import plans as rules
from chalicelib.domain.clock import iso
from chalicelib.domain.plans import Enrolment, Plan
from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, partition, record


def plan_item(tenant_id: str, plan: Plan) -> Item:
    return record(keys.service_plan(tenant_id, plan.plan_id), "service_plan", tenant_id, plan)


def get_plan(tenant_id: str, plan_id: str) -> Plan | None:
    return get(keys.service_plan(tenant_id, plan_id), Plan)


def plans_page(tenant_id: str, cursor: str | None, limit: int) -> Page:
    where = keys.service_plan(tenant_id, "")
    condition = Item.sk.startswith(keys.SERVICE_PLAN_PREFIX)
    found, next_cursor = page(None, where.pk, condition, tenant_id, cursor, limit)
    return Page([entity(item, Plan) for item in found], next_cursor)


def enrolment_item(tenant_id: str, enrolment: Enrolment) -> Item:
    """Indexed for the daily run while it has a date to act on."""
    due = rules.due_at(enrolment)
    indexed = None
    if due is not None:
        sort = keys.plan_due_sort(
            iso(due), tenant_id, enrolment.customer_id, enrolment.enrolment_id
        )
        indexed = (keys.PLANS_DUE, sort)
    key = keys.plan_enrolment(tenant_id, enrolment.customer_id, enrolment.enrolment_id)
    return record(key, "plan_enrolment", tenant_id, enrolment, gsi1=indexed)


def get_enrolment(tenant_id: str, customer_id: str, enrolment_id: str) -> Enrolment | None:
    return get(keys.plan_enrolment(tenant_id, customer_id, enrolment_id), Enrolment)


def customer_enrolments(tenant_id: str, customer_id: str) -> list[Enrolment]:
    """A customer's enrolments (a handful: one Query on their partition)."""
    where = keys.plan_enrolment(tenant_id, customer_id, "")
    items = partition(where.pk, keys.ENROLMENT_PREFIX)
    return sorted((entity(i, Enrolment) for i in items), key=lambda e: e.created_at)


def due(before_iso: str, limit: int = 500) -> list[tuple[str, Enrolment]]:
    """Enrolments whose next action's moment has come, earliest first, every tenant's."""
    condition = Item.gsi1sk < keys.plan_due_sort(before_iso)
    with db.translate_errors():
        found = Item.gsi1.query(keys.PLANS_DUE, condition, limit=limit)
        return [(item.tenant_id, entity(item, Enrolment)) for item in found]
