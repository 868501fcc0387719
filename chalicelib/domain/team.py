"""The team: invitations to join a business, and the rules for changing who may log in.

An invitation is accepted once, before it expires; accepting makes (or, for an existing
technician, links) the user. A deactivated user, or a token issued before a user's role
changed, is refused on the very next request (`tokens_valid_after`, checked per request).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.users import User

INVITATION_DAYS = 7
Role = Literal["owner", "office", "technician"]


class Invitation(BaseModel):
    invitation_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    role: Role
    technician_id: str | None = None
    status: Literal["pending", "accepted"] = "pending"
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    user_id: str | None = None
    version: int | None = None


def require_acceptable(invitation: Invitation, now: datetime) -> None:
    if invitation.status == "accepted":
        raise Conflict("this invitation was already accepted", code="invitation_accepted")
    if invitation.expires_at <= now:
        raise Invalid("this invitation has expired: ask for a new one", code="invitation_expired")


def expiry(now: datetime) -> datetime:
    return now + timedelta(days=INVITATION_DAYS)


def accepted(invitation: Invitation, user_id: str, now: datetime) -> None:
    require_acceptable(invitation, now)
    invitation.status, invitation.accepted_at, invitation.user_id = "accepted", now, user_id


def require_not_self(user: User, actor: str) -> None:
    """An owner cannot lock themselves out (deactivate or demote themselves)."""
    if user.user_id == actor:
        raise Invalid("you cannot change your own access", code="own_account")


def revoke_tokens(user: User, epoch_seconds: float) -> None:
    """Every token issued before now is refused from the next request on."""
    user.tokens_valid_after = epoch_seconds


def token_allowed(user: User | None, issued_at: float) -> bool:
    """A token is honoured while its user is active and it was issued after the user's last
    revocation. A user with no item (a local-stage token for a made-up user) has never been
    deactivated."""
    if user is None:
        return True
    if not user.active:
        return False
    return user.tokens_valid_after is None or issued_at >= user.tokens_valid_after
