"""Settings of the running stage: one typed object, read from the environment once.

A dataclass rather than a pydantic model: `app.py` reads the stage at import, and every
function's cold start would otherwise pay for importing pydantic before it needs it.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

# The secrets' values in the local stage and tests. A deployed stage names a Secrets Manager
# secret instead (FIELDLINE_SECRETS_NAME) and never puts a secret in its environment.
LOCAL_SECRETS = {
    "link_secret": "local-link-secret-change-me",
    "stripe_secret_key": "sk_test_local",
    "stripe_webhook_secret": "whsec_local",
    "stripe_connect_webhook_secret": "whsec_local_connect",
    "twilio_auth_token": "local-twilio-token",
}
STRIPE_JS_URL = "https://js.stripe.com/v3/"
SECRET_ENV = {
    "link_secret": "FIELDLINE_LINK_SECRET",
    "stripe_secret_key": "FIELDLINE_STRIPE_SECRET_KEY",
    "stripe_webhook_secret": "FIELDLINE_STRIPE_WEBHOOK_SECRET",
    "stripe_connect_webhook_secret": "FIELDLINE_STRIPE_CONNECT_WEBHOOK_SECRET",
    "twilio_auth_token": "FIELDLINE_TWILIO_AUTH_TOKEN",
}


@dataclasses.dataclass
class Settings:
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
    # Deployed stages: the Cognito user pool an accepted invitation creates its user in (unset:
    # the local stage, which issues its own tokens).
    user_pool_id: str | None = None
    local_dir: Path = Path(".local")
    stripe_api_base: str | None = None
    # The customer's pay page loads Stripe.js from here with this publishable key (not a
    # secret). Unset, they follow stripe_api_base: against an emulator, localstripe's Stripe.js
    # stand-in and a local key; against Stripe, Stripe's script (the key must then be given).
    stripe_js_url: str | None = None
    stripe_publishable_key: str | None = None
    # The platform's fee on each card payment, in basis points of the amount (0: none), taken
    # as the PaymentIntent's application_fee_amount. The platform's to set (stack context
    # `application_fee_bps`), never a tenant's.
    application_fee_bps: int = 0
    # "outbox" (the local stage's, readable at /dev/outbox) or "twilio".
    sms_provider: str = "outbox"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    # Sender when a tenant has not set its own number.
    twilio_default_from: str = "+15005550006"
    email_from: str = "no-reply@fieldline.local"
    max_body_bytes: int = 256 * 1024
    # Browser origins allowed to call the API (CORS), comma-separated; `http://localhost:*`
    # allows any port. Set per stage in .chalice/config.json; empty: no other origin.
    cors_origins: str = ""
    version: str = "0.1.0"
    # Time-driven work (ARCHITECTURE.md). The bus the timeline is forwarded to, the queue its rules
    # feed the workflow consumer through, and the three state machines.
    event_bus_name: str = "fieldline"
    workflow_queue_name: str = "fieldline-workflow-events"
    # The stream handler's event source needs a literal ARN when the app is imported; the
    # deployed stack replaces it with the table's stream ARN.
    table_stream_arn: str = (
        "arn:aws:dynamodb:us-east-1:000000000000:table/fieldline/stream/placeholder"
    )
    reminders_state_machine_arn: str | None = None
    dunning_state_machine_arn: str | None = None
    reconciliation_state_machine_arn: str | None = None
    # A moment more than a Standard execution's year ahead: an EventBridge Scheduler one-time
    # schedule in this group starts the next execution, as this role (integrations.workflows).
    schedule_group: str | None = None
    scheduler_role_arn: str | None = None
    scheduler_dead_letter_arn: str | None = None
    # Outbound webhooks: the bus's events reach the fan-out through a standard queue, which
    # puts one message per subscription and job on the FIFO queue the deliveries drain.
    outbound_events_queue_name: str = "fieldline-outbound-events"
    deliveries_queue_name: str = "fieldline-deliveries.fifo"
    # Local stage only: the queue the clock polls for the consumer, and where it parks stream
    # records that failed every try (AWS: the event source mapping's on-failure destination).
    workflow_queue_url: str | None = None
    stream_dlq_url: str | None = None
    # Job photos: the bucket the API hands out presigned uploads for (moto's S3 locally).
    photo_bucket: str = "fieldline-photos"
    # Dispatch travel times: "straight_line" (distance x detour / speed, no AWS call) or
    # "amazon_location" (the route calculator's CalculateRouteMatrix; deployed stages).
    travel_provider: str = "straight_line"
    route_calculator_name: str | None = None
    # The function `POST /dispatch/optimize` invokes asynchronously to solve (handlers.optimizer).
    optimizer_function: str | None = None
    # Local stage only: how much faster than real time its clock runs waits (86400: a day a
    # second).
    time_scale: float = 1.0

    # Deployed stages: the Secrets Manager secret (a JSON object) that holds the secrets below.
    secrets_name: str | None = None
    # Secrets given in the environment (the local stage, tests) win over the secret's values.
    secret_values: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.local_dir = Path(self.local_dir)
        if self.stripe_js_url is None:
            emulator = self.stripe_api_base
            self.stripe_js_url = (
                f"{emulator.rstrip('/')}/js.stripe.com/v3/" if emulator else STRIPE_JS_URL
            )
        if self.stripe_publishable_key is None and self.stripe_api_base:
            self.stripe_publishable_key = "pk_test_local"  # localstripe takes any pk_ key

    @property
    def is_local(self) -> bool:
        return self.stage == "local"

    # Secrets resolve on first use, not at import, so a cold start that needs none reads none.
    @property
    def link_secrets(self) -> tuple[str, ...]:
        """Sign customer links and list cursors, newest first: new ones are signed with the
        first, and one signed with any of them verifies (a rotation breaks no link already
        sent). The secret's `link_secret` is one string or a JSON list; the environment's
        FIELDLINE_LINK_SECRET is one, or several separated by commas."""
        if "link_secret" in self.secret_values:
            return _listed(self.secret_values["link_secret"].split(","))
        if self.secrets_name:
            return _secret_list(self.secrets_name, "link_secret")
        return (LOCAL_SECRETS["link_secret"],)

    @property
    def stripe_secret_key(self) -> str:
        return self._secret("stripe_secret_key")

    @property
    def stripe_webhook_secret(self) -> str:
        return self._secret("stripe_webhook_secret")

    @property
    def stripe_connect_webhook_secret(self) -> str:
        """Signs the events of the tenants' connected accounts (a Connect endpoint of its own)."""
        return self._secret("stripe_connect_webhook_secret")

    @property
    def stripe_livemode(self) -> bool:
        """Whether the stage's Stripe key is a live one: events of the other mode are not ours
        (a live Connect endpoint also receives connected accounts' test events)."""
        return self.stripe_secret_key.startswith(("sk_live_", "rk_live_"))

    @property
    def twilio_auth_token(self) -> str:
        return self._secret("twilio_auth_token")

    def _secret(self, key: str) -> str:
        if key in self.secret_values:
            return self.secret_values[key]
        if self.secrets_name:
            return str(_secret_value(self.secrets_name, key))
        return LOCAL_SECRETS[key]


def _listed(values: list[str]) -> tuple[str, ...]:
    secrets = tuple(value.strip() for value in values if value.strip())
    if not secrets:
        raise ValueError("FIELDLINE_LINK_SECRET names no secret")
    return secrets


# --- the stage's secret, and how the stage calls AWS ------------------------------------------
# Read here, not by an integration: every integration reads these settings, so this module
# imports none of them (tests/infra/test_secrets.py checks that config imports no chalicelib).

# Every boto3 client (integrations/aws.py, and the secret's below) has a connect and a read
# timeout and botocore's "standard" retries (3 attempts, transient errors and throttling only,
# with jittered backoff). botocore's own defaults are 60 s each way: one stalled connection
# would outlast API Gateway's 29 s. These keep the worst case (3 attempts x (2 s + 5 s), plus at
# most ~3 s of backoff) inside a request; Amazon Location's route matrices (the optimizer, off
# the request path) get a longer read. Seconds: (connect, read).
AWS_TIMEOUTS = (2, 5)
AWS_SERVICE_TIMEOUTS = {"location": (2, 10)}
AWS_MAX_ATTEMPTS = 3
# Deployed stages keep their secrets in one Secrets Manager secret, a JSON object (DEPLOY.md);
# only its name is in the environment. Powertools' parameters utility reads it on first use and
# caches it this long: a warm function does not call Secrets Manager per request, and a rotated
# value is picked up within minutes without a redeploy.
SECRET_CACHE_SECONDS = 300


class MissingSecret(Exception):
    """The secret has no value for a key the running code needs (or is not valid JSON)."""


def aws_client_config(service: str):
    from botocore.config import Config

    connect, read = AWS_SERVICE_TIMEOUTS.get(service, AWS_TIMEOUTS)
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        # botocore's `max_attempts` counts retries only; `total_max_attempts`, every try.
        retries={"mode": "standard", "total_max_attempts": AWS_MAX_ATTEMPTS},
    )


@lru_cache(maxsize=4)
def secrets_provider(region: str, endpoint_url: str | None):
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    client = boto3.client(
        "secretsmanager",
        region_name=region,
        endpoint_url=endpoint_url,
        config=aws_client_config("secretsmanager"),
    )
    return SecretsProvider(boto3_client=client)


def _secret_value(secret_name: str, key: str) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    stage = get_settings()  # the running stage reaches AWS (in tests, the emulator)
    provider = secrets_provider(stage.aws_region, stage.aws_endpoint_url)
    try:
        values: Any = provider.get(secret_name, max_age=SECRET_CACHE_SECONDS, transform="json")
    except TransformParameterError as exc:
        raise MissingSecret(f"the secret {secret_name} is not a JSON object") from exc
    value = values.get(key) if isinstance(values, dict) else None
    if not value:
        raise MissingSecret(f"the secret {secret_name} has no value for '{key}'")
    return value


def _secret_list(secret_name: str, key: str) -> tuple[str, ...]:
    """A value that rotates: one string, or a JSON list of strings, newest first."""
    value = _secret_value(secret_name, key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise MissingSecret(f"the secret {secret_name}'s '{key}' is not a string or a list of them")
    return tuple(values)


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
        "user_pool_id": "FIELDLINE_USER_POOL_ID",
        "local_dir": "FIELDLINE_LOCAL_DIR",
        "stripe_api_base": "FIELDLINE_STRIPE_API_BASE",
        "stripe_js_url": "FIELDLINE_STRIPE_JS_URL",
        "stripe_publishable_key": "FIELDLINE_STRIPE_PUBLISHABLE_KEY",
        "application_fee_bps": "FIELDLINE_APPLICATION_FEE_BPS",
        "sms_provider": "FIELDLINE_SMS_PROVIDER",
        "email_from": "FIELDLINE_EMAIL_FROM",
        "twilio_account_sid": "FIELDLINE_TWILIO_ACCOUNT_SID",
        "twilio_default_from": "FIELDLINE_TWILIO_DEFAULT_FROM",
        "event_bus_name": "FIELDLINE_EVENT_BUS",
        "workflow_queue_name": "FIELDLINE_WORKFLOW_QUEUE",
        "table_stream_arn": "FIELDLINE_TABLE_STREAM_ARN",
        "reminders_state_machine_arn": "FIELDLINE_REMINDERS_STATE_MACHINE_ARN",
        "dunning_state_machine_arn": "FIELDLINE_DUNNING_STATE_MACHINE_ARN",
        "reconciliation_state_machine_arn": "FIELDLINE_RECONCILIATION_STATE_MACHINE_ARN",
        "schedule_group": "FIELDLINE_SCHEDULE_GROUP",
        "scheduler_role_arn": "FIELDLINE_SCHEDULER_ROLE_ARN",
        "scheduler_dead_letter_arn": "FIELDLINE_SCHEDULER_DLQ_ARN",
        "workflow_queue_url": "FIELDLINE_WORKFLOW_QUEUE_URL",
        "outbound_events_queue_name": "FIELDLINE_OUTBOUND_EVENTS_QUEUE",
        "deliveries_queue_name": "FIELDLINE_DELIVERIES_QUEUE",
        "stream_dlq_url": "FIELDLINE_STREAM_DLQ_URL",
        "time_scale": "FIELDLINE_TIME_SCALE",
        "photo_bucket": "FIELDLINE_PHOTOS_BUCKET",
        "travel_provider": "FIELDLINE_TRAVEL_PROVIDER",
        "route_calculator_name": "FIELDLINE_ROUTE_CALCULATOR",
        "optimizer_function": "FIELDLINE_OPTIMIZER_FUNCTION",
        "secrets_name": "FIELDLINE_SECRETS_NAME",
        "cors_origins": "FIELDLINE_CORS_ORIGINS",
    }
    values = {field: os.environ[var] for field, var in env.items() if os.environ.get(var)}
    if "time_scale" in values:
        values["time_scale"] = float(values["time_scale"])
    if "application_fee_bps" in values:
        values["application_fee_bps"] = int(values["application_fee_bps"])
    secret_values = {key: os.environ[var] for key, var in SECRET_ENV.items() if os.environ.get(var)}
    return Settings(**values, secret_values=secret_values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _from_environment()
