"""Settings of the running stage: one typed object, read from the environment once."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel


class Settings(BaseModel):
    stage: str = "local"
    table_name: str = "fieldline"
    aws_region: str = "us-east-1"
    # Endpoint of the AWS emulator in the local stage and in tests; None in deployed stages.
    aws_endpoint_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    # JWT verification: a JWKS URL (Cognito) in deployed stages, a key under local_dir locally.
    jwt_issuer: str = "fieldline-local"
    jwt_audience: str = "fieldline"
    jwks_url: str | None = None
    local_dir: Path = Path(".local")
    # Signs customer links and pagination cursors. Deployed stages read it from Secrets Manager.
    link_secret: str = "local-link-secret-change-me"
    stripe_api_base: str | None = None
    stripe_secret_key: str = "sk_test_local"
    stripe_webhook_secret: str = "whsec_local"
    # "outbox" (the local stage's, readable at /dev/outbox) or "twilio".
    sms_provider: str = "outbox"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "local-twilio-token"
    # Sender when a tenant has not set its own number.
    twilio_default_from: str = "+15005550006"
    max_body_bytes: int = 256 * 1024
    version: str = "0.1.0"

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


def _from_environment() -> Settings:
    env = {
        "stage": "FIELDLINE_STAGE",
        "table_name": "FIELDLINE_TABLE",
        "aws_region": "AWS_DEFAULT_REGION",
        "aws_endpoint_url": "FIELDLINE_AWS_ENDPOINT",
        "public_base_url": "FIELDLINE_PUBLIC_BASE_URL",
        "jwt_issuer": "FIELDLINE_JWT_ISSUER",
        "jwt_audience": "FIELDLINE_JWT_AUDIENCE",
        "jwks_url": "FIELDLINE_JWKS_URL",
        "local_dir": "FIELDLINE_LOCAL_DIR",
        "link_secret": "FIELDLINE_LINK_SECRET",
        "stripe_api_base": "FIELDLINE_STRIPE_API_BASE",
        "stripe_secret_key": "FIELDLINE_STRIPE_SECRET_KEY",
        "stripe_webhook_secret": "FIELDLINE_STRIPE_WEBHOOK_SECRET",
        "sms_provider": "FIELDLINE_SMS_PROVIDER",
        "twilio_account_sid": "FIELDLINE_TWILIO_ACCOUNT_SID",
        "twilio_auth_token": "FIELDLINE_TWILIO_AUTH_TOKEN",
        "twilio_default_from": "FIELDLINE_TWILIO_DEFAULT_FROM",
    }
    values = {field: os.environ[var] for field, var in env.items() if os.environ.get(var)}
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _from_environment()
