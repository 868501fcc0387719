"""The first tenant of a deployed stage: a one-off admin script (infra/bootstrap_tenant.py).

The table part runs through the app's own service against the session's moto table; Cognito is
moto's. The owner then signs in with a token shaped like Cognito's ID token.
"""

from __future__ import annotations

import time

import boto3
import jwt
import pytest

from infra.bootstrap_tenant import bootstrap


@pytest.fixture
def cognito(moto_endpoint):
    return boto3.client("cognito-idp", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def user_pool(cognito):
    # The pool the stack makes: staff only, with the two custom attributes
    pool = cognito.create_user_pool(
        PoolName="fieldline-test",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Schema=[
            {"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True},
            {"Name": "role", "AttributeDataType": "String", "Mutable": True},
        ],
    )
    return pool["UserPool"]["Id"]


def _cognito_shaped_token(cognito, user_pool: str, email: str) -> str:
    """What Cognito's ID token says about the user, signed by the local stage's key."""
    from chalicelib.config import get_settings
    from chalicelib.integrations import tokens

    user = cognito.admin_get_user(UserPoolId=user_pool, Username=email)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    settings, moment = get_settings(), int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": attributes["sub"],
        "email": email,
        "custom:tenant_id": attributes["custom:tenant_id"],
        "custom:role": attributes["custom:role"],
        "token_use": "id",
        "iat": moment,
        "exp": moment + 3600,
    }
    return jwt.encode(
        claims, tokens.local_private_key(), algorithm="RS256", headers={"kid": tokens.LOCAL_KID}
    )


def test_the_first_owner_signs_in_and_finds_their_business(client, cognito, user_pool):
    # Given a freshly deployed stage with an empty user pool
    email = f"owner-{time.time_ns()}@acme.example"

    # When the admin bootstraps the first tenant
    result = bootstrap(cognito, user_pool, "Acme Plumbing", email, "America/Chicago", "USD")

    # Then the owner's login names the tenant and the role, and the API knows them
    assert result.created
    token = _cognito_shaped_token(cognito, user_pool, email)
    response = client.http.get("/settings", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.body
    assert response.json_body["name"] == "Acme Plumbing"
    assert response.json_body["timezone"] == "America/Chicago"
    assert result.owner_id == jwt.decode(token, options={"verify_signature": False})["sub"]


def test_running_the_bootstrap_again_creates_no_second_tenant(cognito, user_pool, client):
    email = f"owner-{time.time_ns()}@acme.example"
    first = bootstrap(cognito, user_pool, "Acme Plumbing", email, "America/Chicago", "USD")

    again = bootstrap(cognito, user_pool, "Acme Plumbing", email, "America/Chicago", "USD")

    assert not again.created
    assert (again.tenant_id, again.owner_id) == (first.tenant_id, first.owner_id)
