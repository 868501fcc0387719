"""Invitations, and the team as one list (every user of the tenant, by role and name)."""

from __future__ import annotations

from chalicelib.domain.team import Invitation
from chalicelib.domain.users import User
from chalicelib.store import keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, record


def invitation_item(tenant_id: str, invitation: Invitation) -> Item:
    return record(
        keys.invitation(tenant_id, invitation.invitation_id), "invitation", tenant_id, invitation
    )


def get_invitation(tenant_id: str, invitation_id: str) -> Invitation | None:
    return get(keys.invitation(tenant_id, invitation_id), Invitation)


def team_page(tenant_id: str, cursor: str | None, limit: int) -> Page:
    """Every user of the tenant, by role (office, owner, technician), then name (GSI1)."""
    items, next_cursor = page(
        Item.gsi1, keys.users_index(tenant_id), None, tenant_id, cursor, limit
    )
    return Page([entity(item, User) for item in items], next_cursor)
