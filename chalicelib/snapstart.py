"""Lambda SnapStart's runtime hooks, for the API function (the stack enables SnapStart on it
alone; infra/parts/api.py).

With SnapStart, Lambda initializes the function when a version is published, snapshots the
initialized environment, and restores new environments from that snapshot instead of running
the init again. Routes load their modules lazily (chalicelib/api/routing.py) so that an
ordinary cold start pays only for what it serves; before a snapshot that laziness would only
push the work onto each restored environment's first requests, so the hook does it once:

- before the snapshot: import every route module of the stage and the middleware, build their
  pydantic models (deferred otherwise), and import the SDKs and libraries a request reaches
  inside functions (Stripe, Twilio, PyJWT, Babel, Jinja2, botocore's service models);
- after each restore: what environments restored from one snapshot must not share is made
  anew: the `random` module's state (reseeded from the OS; `os.urandom`, `secrets` and ULIDs
  draw from the OS already), and every cached client that could hold a connection or
  credentials (boto3, Stripe, Twilio, the secrets cache) is dropped, to be made on first use.
  (PynamoDB makes its connection on the first table call, which no hook makes.)

Nothing here runs unless Lambda's runtime provides `snapshot_restore_py` and SnapStart is on.
"""

from __future__ import annotations

import random
from importlib import import_module

# Imported inside functions by what requests reach; worth having in the snapshot.
LIBRARIES = (
    "stripe",
    "twilio.rest",
    "jwt",
    "jinja2",
    "babel.numbers",
    "phonenumbers",
    "pynamodb.models",
    "aws_lambda_powertools.utilities.parameters",
)
# Services whose botocore models (JSON, parsed when a client is first made) the API uses.
AWS_SERVICES = ("dynamodb", "events", "stepfunctions", "s3", "secretsmanager", "lambda")


def register() -> bool:
    """Register the hooks with Lambda's runtime; False where there is none (local, tests)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True


def before_snapshot() -> list[str]:
    """Load what the API's requests load lazily. Returns the route modules imported."""
    from chalicelib.api import routing
    from chalicelib.config import get_settings

    import_module("chalicelib.api.middleware")
    modules = routing.stage_modules(local=get_settings().is_local)
    for route in routing.declared_routes(modules):
        for model in (route.body, route.query, route.response):
            if model is not None:
                model.model_rebuild(force=True)  # pydantic's deferred build, done now
    for library in LIBRARIES:
        import_module(library)
    _load_aws_models()
    return [f"chalicelib.api.{module}" for module in modules]


def after_restore() -> None:
    """Nothing shared between restored environments that must be their own."""
    random.seed()  # from os.urandom: each environment its own jitter
    from chalicelib import config
    from chalicelib.integrations import aws, payments_stripe, reconciliation_stripe, sms

    for cached in (
        aws.client,
        payments_stripe._client_for,
        reconciliation_stripe._client_for,
        config.secrets_provider,
        sms.gateway,
    ):
        cached.cache_clear()


def _load_aws_models() -> None:
    """botocore's service models, into the default session's loader cache: no client (no
    credentials, no connection) is made before the snapshot."""
    import boto3

    session = boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    for service in AWS_SERVICES:
        session._session.get_service_model(service)
