"""Technicians: users with the technician role, their skills, shift and home base."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.users import User
from chalicelib.services.common import check_version, found
from chalicelib.services.tenants import get_settings
from chalicelib.store import tenants as store
from chalicelib.store.db import Transaction
from chalicelib.store.records import Page


def create(caller: Caller, fields: dict[str, Any]) -> User:
    region = get_settings(caller).country
    fields["phone"] = to_e164(fields["phone"], region) if fields.get("phone") else None
    tech = User(user_id=new_id(), role=TECHNICIAN, created_at=clock.now(), **fields)
    tx = Transaction()
    tx.put(store.user_item(caller.tenant_id, tech), entity=tech)
    tx.commit()
    return tech


def get(caller: Caller, user_id: str) -> User:
    user = store.get_user(caller.tenant_id, user_id)
    if user is None or user.role != TECHNICIAN:
        user = None
    return found(user, "technician")


def list_all(caller: Caller, cursor: str | None, limit: int) -> Page:
    return store.list_users(caller.tenant_id, TECHNICIAN, cursor, limit)


def update(caller: Caller, user_id: str, changes: dict[str, Any], if_match: int | None) -> User:
    tech = get(caller, user_id)
    check_version(tech.version, if_match)
    if changes.get("phone"):
        changes["phone"] = to_e164(changes["phone"], get_settings(caller).country)
    updated = User.model_validate({**tech.model_dump(), **changes})
    tx = Transaction()
    tx.put(store.user_item(caller.tenant_id, updated), entity=updated)
    tx.commit()
    return updated
