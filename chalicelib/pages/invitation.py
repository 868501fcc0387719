"""The page an invitation's link opens: who invites whom as what, and one button to accept.

Accepting makes the login (services/team.py); the page then says how to sign in: in deployed
stages Cognito has sent a temporary password, in the local stage the page shows a token.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common, render
from chalicelib.services import team

ROOT = "../"


def show(token: str) -> Response:
    try:
        tenant_id, invitation = team.read_invitation(token)
    except Invalid:
        return _expired()
    tenant = common.business(tenant_id)
    if invitation.status == "accepted":
        return _already(tenant.name)
    body = render.document(
        "invitation.html",
        f"Join {tenant.name}",
        business=tenant.name,
        logo_url=tenant.logo_url,
        root=ROOT,
        invitation=invitation,
        token=token,
        expires=local_date(invitation.expires_at, tenant.timezone),
    )
    return render.page(body)


def accept(token: str) -> Response:
    try:
        accepted = team.accept(token)
    except Invalid:
        return _expired("../../")
    except Conflict:
        return _already("", "../../")
    tenant = common.business(accepted["tenant_id"])
    if accepted["token"]:
        text = f"You are in (local stage). Your token: {accepted['token']}"
    else:
        text = f"You are in. Sign in as {accepted['login']} with the temporary password just sent."
    return render.message_page(
        f"Welcome to {tenant.name}", text, status=200, business=tenant.name, root="../../"
    )


def _expired(root: str = ROOT) -> Response:
    text = "Ask the business's owner to invite you again."
    return render.message_page("This invitation has expired", text, status=410, root=root)


def _already(business: str, root: str = ROOT) -> Response:
    text = "This invitation was already accepted: sign in instead."
    return render.message_page("Already accepted", text, status=409, business=business, root=root)
