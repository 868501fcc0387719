"""The team: invitations (owner), accepting one (public, by its link), roles and deactivation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Strict
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.services import team

api = Api(__name__, "team")

Role = Literal["owner", "office", "technician"]
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class InvitationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    phone: str | None = Field(None, min_length=3, max_length=32)
    role: Role
    technician_id: str | None = Field(
        None, max_length=64, description="The technician this person is (role technician)"
    )


class InvitationOut(Out):
    id: str = Field(validation_alias="invitation_id")
    name: str
    email: str | None
    phone: str | None
    role: Role
    technician_id: str | None
    status: Literal["pending", "accepted"]
    expires_at: datetime
    accepted_at: datetime | None
    user_id: str | None


class InvitationCreated(InvitationOut):
    accept_url: str = Field(description="The signed link the person was sent (expires)")


class MemberOut(Out):
    id: str = Field(validation_alias="user_id")
    name: str
    role: Role
    email: str | None
    phone: str | None
    active: bool
    technician_id: str | None = Field(None, description="Set for technicians: their own id")
    version: int


class MemberPage(PageOut[MemberOut]):
    pass


class RoleIn(Strict):
    role: Role


class AcceptedOut(BaseModel):
    tenant_id: str
    user: MemberOut
    token: str | None = Field(
        description="Local stage: a token for the new user. Deployed stages: null; Cognito "
        "sends a temporary password to the email or phone, and the user signs in"
    )
    login: str | None = Field(description="Deployed stages: the Cognito username")


def _member(user) -> MemberOut:
    out = MemberOut.model_validate(user, from_attributes=True)
    out.technician_id = user.user_id if user.role == "technician" else None
    return out


@api.route(
    "/team/invitations",
    "POST",
    roles=(OWNER,),
    body=InvitationIn,
    response=InvitationCreated,
    status=201,
)
def invite(body: InvitationIn):
    """Invite someone; texted (phone) and/or emailed (email) a link that expires in 7 days."""
    invitation, link = team.invite(caller(), body.model_dump())
    return {**invitation.model_dump(), "accept_url": link}


@api.route("/public/invitations/{token}", "GET", roles=None, response=InvitationOut)
def read_invitation(token: str):
    """The invitation a link names (404 not one; 422 `invitation_expired`)."""
    return team.read_invitation(token)[1]


@api.route(
    "/public/invitations/{token}/accept",
    "POST",
    roles=None,
    response=AcceptedOut,
    status=201,
    link="invitation",
)
def accept_invitation(token: str):
    """Accept: makes the login. 409 `invitation_accepted` the second time; 422
    `invitation_expired` after 7 days."""
    accepted = team.accept(token)
    return AcceptedOut(
        tenant_id=accepted["tenant_id"],
        user=_member(accepted["user"]),
        token=accepted["token"],
        login=accepted["login"],
    )


@api.route("/team", "GET", roles=STAFF, query=ListQuery, response=MemberPage)
def list_team(query: ListQuery):
    """Everyone who logs in: office staff, owners, technicians (by role, then name)."""
    found = team.list_team(caller(), query.cursor, query.limit)
    return MemberPage(items=[_member(u) for u in found.items], next_cursor=found.next_cursor)


@api.route("/team/{user_id}", "PATCH", roles=(OWNER,), body=RoleIn, response=MemberOut)
def change_role(user_id: str, body: RoleIn, if_match: int | None = None):
    """Change someone's role; their tokens stop at once (they sign in again)."""
    return _member(team.change_role(caller(), user_id, body.role, if_match))


@api.route("/team/{user_id}/deactivate", "POST", roles=(OWNER,), response=MemberOut)
def deactivate(user_id: str, if_match: int | None = None):
    """Deactivate someone: their next request is refused (401), whatever token they hold."""
    return _member(team.deactivate(caller(), user_id, if_match))
