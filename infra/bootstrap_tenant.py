"""Create the first tenant of a deployed stage and its owner's login (a one-off, by an admin).

    python -m infra.bootstrap_tenant --stage prod --name "Acme Plumbing" \\
        --owner-email owner@acme.example --timezone America/Chicago --currency USD

It reads the table and user pool from the stack's outputs (`fieldline-<stage>`), creates the
owner in Cognito (Cognito emails a temporary password), writes the tenant and its owner through
the app's own service (`services.tenants.create_tenant`, with the owner's Cognito `sub` as the
user id the API will see in the token), and then gives the Cognito user its `custom:tenant_id`.
Run it with the deploying account's credentials. Running it again for the same email finds the
user and does not create a second tenant.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWNER = "owner"


@dataclass(frozen=True)
class Bootstrapped:
    tenant_id: str
    owner_id: str
    created: bool


def bootstrap(
    cognito,
    user_pool_id: str,
    name: str,
    owner_email: str,
    timezone: str,
    currency: str,
) -> Bootstrapped:
    """The owner's Cognito user, then the tenant (through the app's service), then the link."""
    from chalicelib.services import tenants

    attributes, created_user = _owner_user(cognito, user_pool_id, owner_email)
    if attributes.get("custom:tenant_id"):
        return Bootstrapped(attributes["custom:tenant_id"], attributes["sub"], created=False)
    tenant, owner = tenants.create_tenant(
        name, timezone, currency, owner_id=attributes["sub"], owner_email=owner_email
    )
    cognito.admin_update_user_attributes(
        UserPoolId=user_pool_id,
        Username=owner_email,
        UserAttributes=[{"Name": "custom:tenant_id", "Value": tenant.tenant_id}],
    )
    return Bootstrapped(tenant.tenant_id, owner.user_id, created=True)


def _owner_user(cognito, user_pool_id: str, email: str) -> tuple[dict[str, str], bool]:
    try:
        response = cognito.admin_create_user(
            UserPoolId=user_pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "custom:role", "Value": OWNER},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
        return _attributes(response["User"]["Attributes"]), True
    except cognito.exceptions.UsernameExistsException:
        user = cognito.admin_get_user(UserPoolId=user_pool_id, Username=email)
        return _attributes(user["UserAttributes"]), False


def _attributes(pairs: list[dict[str, str]]) -> dict[str, str]:
    return {pair["Name"]: pair["Value"] for pair in pairs}


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the first tenant of a deployed stage.")
    parser.add_argument("--stage", required=True, help="the stage deployed as fieldline-<stage>")
    parser.add_argument("--name", required=True, help="the business's name")
    parser.add_argument("--owner-email", required=True)
    parser.add_argument("--timezone", default="America/New_York", help="an IANA time zone")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--table", help="the table's name (default: the stack's output)")
    parser.add_argument("--user-pool-id", help="default: the stack's output")
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session(region_name=args.region)
    table, user_pool_id = args.table, args.user_pool_id
    if not (table and user_pool_id):
        outputs = stack_outputs(session.client("cloudformation"), f"fieldline-{args.stage}")
        table = table or outputs["TableName"]
        user_pool_id = user_pool_id or outputs["UserPoolId"]

    # The app's settings are read once, at its first import: say which table before it is.
    os.environ.update({"FIELDLINE_STAGE": args.stage, "FIELDLINE_TABLE": table})
    os.environ["AWS_DEFAULT_REGION"] = session.region_name or "us-east-1"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    result = bootstrap(
        session.client("cognito-idp"),
        user_pool_id,
        args.name,
        args.owner_email,
        args.timezone,
        args.currency,
    )
    if result.created:
        print(f"tenant {result.tenant_id} created; owner {args.owner_email} ({result.owner_id})")
        print("Cognito has emailed the owner a temporary password.")
    else:
        print(f"{args.owner_email} already owns tenant {result.tenant_id}; nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
