"""boto3 clients, created once per process on first use (cold starts skip unused ones)."""

from __future__ import annotations

from functools import cache

from chalicelib.config import get_settings


@cache
def client(service: str):
    import boto3
    from botocore.config import Config

    settings = get_settings()
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2),
    )
