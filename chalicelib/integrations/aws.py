"""boto3 clients, created once per process on first use (cold starts skip unused ones).

Each with the stage's timeouts and retries (`config.aws_client_config`: why those numbers).
"""

from __future__ import annotations

from functools import cache

from chalicelib.config import aws_client_config, get_settings


@cache
def client(service: str):
    import boto3

    settings = get_settings()
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=aws_client_config(service),
    )
