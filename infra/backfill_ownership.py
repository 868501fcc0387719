"""Claim the texting number and Stripe account of every tenant saved before claims existed
(a one-off, by an admin, after deploying the version that claims them).

    python -m infra.backfill_ownership --stage prod

Each claim is the `OWNER#...` item the settings save writes in its transaction; a tenant saved
since already has its own, and running this again changes nothing. It Scans the table, which
the stack's functions may not do: run it with the deploying account's credentials. Two tenants
holding one number or account (the race the claims close) are printed, not settled.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Claim numbers and Stripe accounts once.")
    parser.add_argument("--stage", required=True, help="the stage deployed as fieldline-<stage>")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--table", help="the table's name (default: the stack's output)")
    args = parser.parse_args(argv)

    import boto3

    from infra.bootstrap_tenant import stack_outputs

    session = boto3.session.Session(region_name=args.region)
    table = (
        args.table
        or stack_outputs(session.client("cloudformation"), f"fieldline-{args.stage}")["TableName"]
    )
    # The app's settings are read once, at its first import: say which table before it is.
    os.environ.update({"FIELDLINE_STAGE": args.stage, "FIELDLINE_TABLE": table})
    os.environ["AWS_DEFAULT_REGION"] = session.region_name or "us-east-1"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    from chalicelib.services import tenants

    conflicts = tenants.backfill_ownership(every_tenant(table))
    for conflict in conflicts:
        print(f"held twice: {conflict}")
    print("claims written" if not conflicts else f"{len(conflicts)} to settle by hand")
    return 1 if conflicts else 0


def every_tenant(table: str) -> Iterator:
    """Every tenant, by a Scan: an admin's one-off, never a request path (the app's functions
    may not Scan, and the app itself never does)."""
    from boto3.dynamodb.types import TypeDeserializer

    from chalicelib.domain.tenants import Tenant
    from chalicelib.integrations.aws import client

    deserialize = TypeDeserializer().deserialize
    pages = (
        client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="#type = :tenant",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues={":tenant": {"S": "tenant"}},
        )
    )
    for page in pages:
        for raw in page["Items"]:
            yield Tenant.model_validate(_plain(deserialize(raw["data"])))


def _plain(value):
    """DynamoDB numbers come back as Decimal: whole ones as int."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


if __name__ == "__main__":
    sys.exit(main())
