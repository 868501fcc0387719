"""`Idempotency-Key` on POST, with Powertools idempotency persisted in the one table.

Each tenant's records live under `T#<tenant>#IDEMPOTENCY` (a customer's link names its
tenant); the key hashes the route and the client's key, and the body is validated so a reused
key with another body is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.integrations.aws import client
from chalicelib.store import keys

KEY_LIFETIME_SECONDS = 24 * 3600


def run_once(
    tenant_id: str,
    route: str,
    key: str,
    body: Any,
    compute: Callable[[], dict],
    lambda_context: Any = None,
) -> tuple[dict, bool]:
    """The outcome of `compute`, run once per key; and whether it is a replay (stored from the
    first request rather than computed now)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    store = DynamoDBPersistenceLayer(
        table_name=get_settings().table_name,
        key_attr=keys.PK,
        sort_key_attr=keys.SK,
        static_pk_value=keys.idempotency_partition(tenant_id),
        expiry_attr=keys.TTL_ATTRIBUTE,
        data_attr="response",
        boto3_client=client("dynamodb"),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=KEY_LIFETIME_SECONDS,
    )
    if hasattr(lambda_context, "get_remaining_time_in_millis"):
        # An in-progress record then expires with the invocation, so a timed-out try can retry.
        config.register_lambda_context(lambda_context)
    computed = []

    @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
    def handle(request: dict) -> dict:
        computed.append(True)
        return compute()

    try:
        outcome = handle(request={"route": route, "key": key, "body": body})
        return outcome, not computed
    except IdempotencyValidationError as exc:
        raise Invalid(
            "this Idempotency-Key was used with a different body", code="idempotency_key_reused"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress", code="request_in_progress"
        ) from exc
