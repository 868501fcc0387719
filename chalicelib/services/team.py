"""The team: invite people, let them accept (a login), change roles, deactivate; and the check
every request's token passes (an active user, a token issued after the last revocation)."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.config import get_settings as stage_settings
from chalicelib.domain import clock, links
from chalicelib.domain import team as rules
from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.team import Invitation
from chalicelib.domain.users import User
from chalicelib.logs import logger
from chalicelib.services import messaging
from chalicelib.services.common import check_version, found
from chalicelib.services.tenants import get_settings
from chalicelib.store import team as store
from chalicelib.store import tenants as users
from chalicelib.store.db import Transaction
from chalicelib.store.records import Page

LINK_KIND = "invitation"


def token_allowed(tenant_id: str, user_id: str, issued_at: float) -> bool:
    """One strongly consistent GetItem per request, never cached: a cache of even a few seconds
    per Lambda instance would let a deactivated user in for those seconds on each of them."""
    return rules.token_allowed(users.get_user(tenant_id, user_id), issued_at)


# --- invitations ------------------------------------------------------------------------------


def invite(caller: Caller, fields: dict[str, Any]) -> tuple[Invitation, str]:
    """The invitation and its accept link, texted and/or emailed to the person."""
    tenant = get_settings(caller)
    if fields.get("phone"):
        fields["phone"] = to_e164(fields["phone"], tenant.country)
    if not (fields.get("phone") or fields.get("email")):
        raise Invalid("an invitation needs a phone or an email to reach the person")
    if fields.get("technician_id"):
        _linkable_technician(caller, fields["technician_id"], fields["role"])
    now = clock.now()
    invitation = Invitation(
        invitation_id=new_id(),
        created_by=caller.user_id,
        created_at=now,
        expires_at=rules.expiry(now),
        **fields,
    )
    tx = Transaction()
    tx.put(store.invitation_item(caller.tenant_id, invitation), entity=invitation)
    tx.commit()
    link = accept_link(caller.tenant_id, invitation)
    _deliver(tenant, invitation, link)
    return invitation, link


def _linkable_technician(caller: Caller, technician_id: str, role: str) -> None:
    if role != TECHNICIAN:
        raise Invalid("only a technician's invitation names a technician")
    tech = users.get_user(caller.tenant_id, technician_id)
    if tech is None or tech.role != TECHNICIAN:
        raise Invalid(f"no technician {technician_id}", code="unknown_technician")


def accept_link(tenant_id: str, invitation: Invitation) -> str:
    claims = links.LinkClaims(
        kind=LINK_KIND,
        tenant_id=tenant_id,
        job_id="",
        object_id=invitation.invitation_id,
        expires_at=invitation.expires_at,
    )
    token = links.sign(claims, stage_settings().link_secrets)
    return f"{stage_settings().public_base_url}/p/invitations/{token}"


def _deliver(tenant, invitation: Invitation, link: str) -> None:
    """Best effort, like every notification: the invitation exists (and its link is in the
    answer) whether or not the carrier took it."""
    from markupsafe import Markup

    from chalicelib.integrations.email import EmailFailed, send_email

    intro = f"{invitation.name}, {tenant.name} invites you to Fieldline as {invitation.role}."
    text = f"{intro} Accept: {link}"
    if invitation.phone:
        messaging.text_person(tenant, invitation.phone, "invitation", text)
    if invitation.email:
        html = Markup('<p>{}</p><p><a href="{}">Accept the invitation</a></p>').format(intro, link)
        subject = f"Join {tenant.name} on Fieldline"
        try:
            send_email(invitation.email, subject, text, str(html), tenant.email)
        except EmailFailed:
            logger.warning("invitation email not sent", extra={"id": invitation.invitation_id})


def read_invitation(token: str) -> tuple[str, Invitation]:
    """The tenant and invitation a link names: 404 for a link that is not one, 422
    invitation_expired for one past its time."""
    now, secrets = clock.now(), stage_settings().link_secrets
    claims = links.verify(token, LINK_KIND, secrets, now)
    if claims is None:
        if links.is_expired_link(token, LINK_KIND, secrets, now):
            raise Invalid(
                "this invitation has expired: ask for a new one", code="invitation_expired"
            )
        raise NotFound("invitation not found")
    invitation = users_invitation(claims.tenant_id, claims.object_id)
    return claims.tenant_id, invitation


def users_invitation(tenant_id: str, invitation_id: str) -> Invitation:
    return found(store.get_invitation(tenant_id, invitation_id), "invitation")


def accept(token: str) -> dict[str, Any]:
    """Make the login: the user (or the technician it names, now with a login), the invitation
    accepted, in one transaction; in deployed stages the Cognito user first, locally a token."""
    tenant_id, invitation = read_invitation(token)
    now = clock.now()
    rules.require_acceptable(invitation, now)
    user = _user_for(tenant_id, invitation, now)
    settings = stage_settings()
    if settings.user_pool_id:
        from chalicelib.integrations import cognito

        user.login = cognito.create_user(
            settings.user_pool_id,
            invitation.email,
            invitation.phone,
            tenant_id,
            invitation.role,
            user.user_id,
        )
    rules.accepted(invitation, user.user_id, now)
    tx = Transaction()
    tx.put(store.invitation_item(tenant_id, invitation), entity=invitation)
    tx.put(users.user_item(tenant_id, user), entity=user)
    tx.commit()
    token_out = None
    if not settings.user_pool_id:
        from chalicelib.integrations import tokens

        token_out = tokens.issue_local_token(tenant_id, user.user_id, user.role)
    return {"tenant_id": tenant_id, "user": user, "token": token_out, "login": user.login}


def _user_for(tenant_id: str, invitation: Invitation, now) -> User:
    if invitation.technician_id:
        tech = found(users.get_user(tenant_id, invitation.technician_id), "technician")
        tech.email = invitation.email or tech.email
        tech.phone = invitation.phone or tech.phone
        return tech
    return User(
        # The invitation's id: an accept tried again makes the same user (and finds its login).
        user_id=invitation.invitation_id,
        role=invitation.role,
        name=invitation.name,
        email=invitation.email,
        phone=invitation.phone,
        created_at=now,
    )


# --- the team -----------------------------------------------------------------------------------


def list_team(caller: Caller, cursor: str | None, limit: int) -> Page:
    return store.team_page(caller.tenant_id, cursor, limit)


def change_role(caller: Caller, user_id: str, role: str, if_match: int | None) -> User:
    user = _changeable(caller, user_id, if_match)
    old_role = user.role
    if old_role == role:
        return user
    user.role = role
    # Tokens name the role they were issued with: the old ones stop, a new login has the new.
    rules.revoke_tokens(user, time.time())
    _save(caller, user)
    if _cognito_login(user):
        from chalicelib.integrations import cognito

        cognito.change_role(stage_settings().user_pool_id, user.login, old_role, role)
    return user


def deactivate(caller: Caller, user_id: str, if_match: int | None) -> User:
    user = _changeable(caller, user_id, if_match)
    user.active = False
    # Real time, as a token's `iat` is, whatever the local stage's clock says.
    rules.revoke_tokens(user, time.time())
    _save(caller, user)
    if _cognito_login(user):
        from chalicelib.integrations import cognito

        cognito.disable_user(stage_settings().user_pool_id, user.login)
    return user


def _changeable(caller: Caller, user_id: str, if_match: int | None) -> User:
    user = found(users.get_user(caller.tenant_id, user_id), "user")
    check_version(user.version, if_match)
    rules.require_not_self(user, caller.user_id)
    return user


def _cognito_login(user: User) -> bool:
    """Whether the user has a Cognito login to change too (deployed stages, after the item:
    if Cognito fails, the API already refuses the user, and the call can be repeated)."""
    return bool(stage_settings().user_pool_id and user.login)


def _save(caller: Caller, user: User) -> None:
    tx = Transaction()
    tx.put(users.user_item(caller.tenant_id, user), entity=user)
    tx.commit()
