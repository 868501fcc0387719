"""JWT verification against a JWKS, and the local stage's own signing key.

Deployed stages verify Cognito tokens with the user pool's JWKS (fetched once, cached by
PyJWKClient). The local stage generates an RSA key under `.local/` on first start and signs
its own tokens with it, so the same verification path runs everywhere.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.config import get_settings

LOCAL_KID = "fieldline-local-1"
ALGORITHMS = ["RS256"]
TOKEN_LIFETIME_SECONDS = 12 * 3600


class InvalidToken(Exception):
    pass


def _key_path() -> Path:
    return get_settings().local_dir / "jwt-signing-key.pem"


@lru_cache(maxsize=1)
def local_private_key() -> rsa.RSAPrivateKey:
    path = _key_path()
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def local_jwks() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(local_private_key().public_key()))
    return {"keys": [{**jwk, "kid": LOCAL_KID, "alg": "RS256", "use": "sig"}]}


def issue_local_token(tenant_id: str, user_id: str, role: str) -> str:
    settings = get_settings()
    moment = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "tenant_id": tenant_id,
        "role": role,
        "iat": moment,
        "nbf": moment,
        "exp": moment + TOKEN_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, local_private_key(), algorithm="RS256", headers={"kid": LOCAL_KID})


@lru_cache(maxsize=1)
def _jwks_client() -> jwt.PyJWKClient:
    return jwt.PyJWKClient(get_settings().jwks_url, cache_keys=True, lifespan=3600)


def _verification_key(token: str):
    settings = get_settings()
    if settings.jwks_url:
        return _jwks_client().get_signing_key_from_jwt(token).key
    header = jwt.get_unverified_header(token)
    if header.get("kid") != LOCAL_KID:
        raise InvalidToken("unknown signing key")
    return local_private_key().public_key()


def verify(token: str) -> dict[str, Any]:
    """Claims of a valid token; InvalidToken for anything else (alg none, wrong key, expired…)."""
    settings = get_settings()
    try:
        return jwt.decode(
            token,
            _verification_key(token),
            algorithms=ALGORITHMS,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=30,
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
