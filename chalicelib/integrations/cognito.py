"""The deployed stages' logins: Cognito users made, re-roled and disabled by the team's service.

A user's token names its tenant, role and Fieldline user id in custom attributes
(`custom:tenant_id`, `custom:role`, `custom:user_id`: an invited technician logs in as the
technician the office already books, whose id predates their Cognito `sub`), and the user is in
the group of their role. Cognito's global sign-out only stops refresh tokens: ID and access
tokens stay valid by their signature until they expire (an hour), so the API also refuses a
deactivated user's token itself (services/team.py).
"""

from __future__ import annotations

from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.integrations.aws import client


def create_user(
    pool_id: str, email: str | None, phone: str | None, tenant_id: str, role: str, user_id: str
) -> str:
    """AdminCreateUser (Cognito sends the temporary password to the email or phone) and the
    role's group; returns the Cognito username."""
    from botocore.exceptions import BotoCoreError, ClientError

    username = email or phone
    attributes = [
        {"Name": "custom:tenant_id", "Value": tenant_id},
        {"Name": "custom:role", "Value": role},
        {"Name": "custom:user_id", "Value": user_id},
    ]
    if email:
        attributes += [
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ]
    if phone:
        attributes += [
            {"Name": "phone_number", "Value": phone},
            {"Name": "phone_number_verified", "Value": "true"},
        ]
    try:
        client("cognito-idp").admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=attributes,
            DesiredDeliveryMediums=["EMAIL"] if email else ["SMS"],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "UsernameExistsException":
            raise Unavailable("logins could not be created", code="upstream_unavailable") from exc
        # An accept that made the login and then failed to save, tried again: the login is ours.
        if not _is_login_of(pool_id, username, tenant_id, user_id):
            raise Conflict(f"{username} already has a login", code="login_exists") from exc
    except BotoCoreError as exc:
        raise Unavailable("logins could not be created", code="upstream_unavailable") from exc
    # Adding a user to a group it is in already changes nothing: safe on a retry too.
    _call("admin_add_user_to_group", UserPoolId=pool_id, Username=username, GroupName=role)
    return username


def _is_login_of(pool_id: str, username: str, tenant_id: str, user_id: str) -> bool:
    found = _call("admin_get_user", UserPoolId=pool_id, Username=username)
    claims = {a["Name"]: a["Value"] for a in found.get("UserAttributes", [])}
    return (claims.get("custom:tenant_id"), claims.get("custom:user_id")) == (tenant_id, user_id)


def change_role(pool_id: str, username: str, old_role: str, new_role: str) -> None:
    _call(
        "admin_update_user_attributes",
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": "custom:role", "Value": new_role}],
    )
    _call("admin_remove_user_from_group", UserPoolId=pool_id, Username=username, GroupName=old_role)
    _call("admin_add_user_to_group", UserPoolId=pool_id, Username=username, GroupName=new_role)


def disable_user(pool_id: str, username: str) -> None:
    """No new sign-in (disable) and no refresh (global sign-out)."""
    _call("admin_user_global_sign_out", UserPoolId=pool_id, Username=username)
    _call("admin_disable_user", UserPoolId=pool_id, Username=username)


def _call(operation: str, **kwargs) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(client("cognito-idp"), operation)(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable("logins could not be changed", code="upstream_unavailable") from exc
