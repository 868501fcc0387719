"""boto3 clients, created once per process on first use (cold starts skip unused ones).

Every client has a connect and a read timeout and botocore's "standard" retries (3 attempts,
transient errors and throttling only, with jittered backoff). botocore's own defaults are 60 s
each way: one stalled connection would outlast API Gateway's 29 s. The defaults below keep the
worst case (3 attempts x (2 s + 5 s), plus at most ~3 s of backoff) inside a request; Amazon
Location's route matrices (the optimizer, off the request path) get a longer read.
"""

from __future__ import annotations

from functools import cache

from chalicelib.config import get_settings

# Seconds: (connect, read).
TIMEOUTS = (2, 5)
SERVICE_TIMEOUTS = {"location": (2, 10)}
MAX_ATTEMPTS = 3


@cache
def client(service: str):
    import boto3

    settings = get_settings()
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=client_config(service),
    )


def client_config(service: str):
    from botocore.config import Config

    connect, read = SERVICE_TIMEOUTS.get(service, TIMEOUTS)
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        # botocore's `max_attempts` counts retries only; `total_max_attempts`, every try.
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
