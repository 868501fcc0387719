"""Broken authentication and function-level authorization (OWASP API2, API5)."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.integrations import tokens
from tests.integration.helpers import Api


def _claims(tenant, **overrides):
    now = int(time.time())
    claims = {
        "iss": "fieldline-local",
        "aud": "fieldline",
        "sub": "user-1",
        "tenant_id": tenant,
        "role": "owner",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims, key=None, kid=tokens.LOCAL_KID):
    return jwt.encode(
        claims, key or tokens.local_private_key(), algorithm="RS256", headers={"kid": kid}
    )


def _unsigned(claims):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.LOCAL_KID})}.{b64(claims)}."


def _tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tenant_id"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


BAD_TOKENS = {
    "expired": lambda t: _signed(_claims(t, exp=int(time.time()) - 3600, iat=0, nbf=0)),
    "not yet valid": lambda t: _signed(_claims(t, nbf=int(time.time()) + 3600)),
    "wrong issuer": lambda t: _signed(_claims(t, iss="https://evil.example")),
    "wrong audience": lambda t: _signed(_claims(t, aud="someone-else")),
    "alg none": lambda t: _unsigned(_claims(t)),
    "wrong key": lambda t: _signed(
        _claims(t), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ),
    "unknown kid": lambda t: _signed(_claims(t), kid="other"),
    "tampered claims": lambda t: _tampered(_signed(_claims(t))),
    "no tenant": lambda t: _signed(_claims(t, tenant_id=None)),
    "unknown role": lambda t: _signed(_claims(t, role="admin")),
    "garbage": lambda t: "not-a-jwt",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_with_401(client, owner, kind):
    caller = Api(client, BAD_TOKENS[kind](owner.tenant_id))
    response = caller.get("/customers")
    assert response.status_code == 401
    assert response.data["error"]["code"] == "unauthorized"


def test_a_missing_token_is_401_and_a_public_route_needs_none(client):
    assert Api(client, "").get("/customers").status_code == 401
    assert Api(client, "").get("/health").status_code == 200


def test_a_valid_token_with_cognito_style_claims_is_accepted(client, owner):
    claims = _claims(owner.tenant_id, tenant_id=None, role=None)
    claims.update({"custom:tenant_id": owner.tenant_id, "custom:role": "office"})
    assert Api(client, _signed(claims)).get("/customers").status_code == 200


def test_roles_limit_what_each_user_may_do(owner):
    office = owner.as_role("office")
    technician = owner.as_role("technician")
    assert office.get("/settings").status_code == 200
    assert office.patch("/settings", {"tax_rate_bps": 825}).status_code == 403
    assert technician.get("/customers").status_code == 403
    assert technician.post("/leads", {"customer_id": "x", "title": "t"}).status_code == 403
    assert owner.patch("/settings", {"tax_rate_bps": 825}).status_code == 200
