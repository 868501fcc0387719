"""The Stripe, Twilio and link secrets of a deployed stage, read from Secrets Manager.

Deployed stages keep them in one secret whose value is a JSON object (see docs/DEPLOY.md); only
its name is in the environment (`FIELDLINE_SECRETS_NAME`). Powertools' parameters utility reads
it on first use and caches it for `CACHE_SECONDS`, so a warm Lambda does not call Secrets Manager
per request and a rotated value is picked up within minutes, without a redeploy.

`link_secret` rotates without breaking links already sent: it may be a list, newest first
(`["new", "old"]`); links signed with any of them verify until they expire.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# The keys of the secret's JSON value, as the Settings fields that read them are named.
KEYS = (
    "stripe_secret_key",
    "stripe_webhook_secret",
    "stripe_connect_webhook_secret",
    "twilio_auth_token",
    "link_secret",
)
CACHE_SECONDS = 300


class MissingSecret(Exception):
    """The secret has no value for a key the running code needs (or is not valid JSON)."""


@cache
def _provider():
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from chalicelib.integrations.aws import client

    return SecretsProvider(boto3_client=client("secretsmanager"))


def read(secret_name: str, key: str) -> str:
    """One value of the secret's JSON object; cached for CACHE_SECONDS."""
    return str(_value(secret_name, key))


def read_list(secret_name: str, key: str) -> tuple[str, ...]:
    """A value that rotates: one string, or a JSON list of strings, newest first."""
    value = _value(secret_name, key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise MissingSecret(f"the secret {secret_name}'s '{key}' is not a string or a list of them")
    return tuple(values)


def _value(secret_name: str, key: str) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    try:
        values: Any = _provider().get(secret_name, max_age=CACHE_SECONDS, transform="json")
    except TransformParameterError as exc:
        raise MissingSecret(f"the secret {secret_name} is not a JSON object") from exc
    value = values.get(key) if isinstance(values, dict) else None
    if not value:
        raise MissingSecret(f"the secret {secret_name} has no value for '{key}'")
    return value
