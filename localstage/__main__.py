"""`make run`: the local stage in the foreground. Ctrl-C stops everything it started.

One process tree: an in-process moto server (DynamoDB, S3, ...), a localstripe child process
and Chalice's local server, all on loopback. No AWS account, no keys.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from localstage import clock, emulators

PROJECT_DIR = Path(__file__).resolve().parent.parent
TABLE = "fieldline-local"
PHOTO_BUCKET = "fieldline-photos-local"
WEBHOOK_SECRET = "whsec_local_stage"
CONNECT_WEBHOOK_SECRET = "whsec_local_stage_connect"


def main() -> int:
    args = parse_args()
    local_dir = PROJECT_DIR / ".local"
    local_dir.mkdir(exist_ok=True)
    moto, aws_endpoint = emulators.start_moto(args.moto_port)
    stripe = emulators.start_localstripe(args.stripe_port, log_path=local_dir / "localstripe.log")
    ticking = None
    try:
        base_url = f"http://127.0.0.1:{args.port}"
        os.environ.update(stage_environment(aws_endpoint, args.stripe_port, base_url, local_dir))
        emulators.create_table(aws_endpoint, TABLE)
        create_photo_bucket(aws_endpoint)
        emulators.register_stripe_webhook(
            args.stripe_port, f"{base_url}/webhooks/stripe", WEBHOOK_SECRET
        )
        # The tenants' payments are on their connected accounts: Stripe's Connect endpoint.
        emulators.register_stripe_webhook(
            args.stripe_port,
            f"{base_url}/webhooks/stripe/connect",
            CONNECT_WEBHOOK_SECRET,
            connect=True,
        )
        # The bus, queues and state machines, before the app reads its settings.
        clock.provision(aws_endpoint)
        server = chalice_server(args.port)
        ticking = clock.start(aws_endpoint, TABLE)
        print_banner(base_url, aws_endpoint, args.stripe_port)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if ticking is not None:
            ticking.stop()
        emulators.stop(stripe)
        moto.stop()
        print("local stage stopped")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localstage", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--stripe-port", type=int, default=int(os.environ.get("STRIPE_PORT", 8420)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 0)))
    return parser.parse_args()


def stage_environment(aws_endpoint: str, stripe_port: int, base_url: str, local_dir: Path):
    return {
        "FIELDLINE_STAGE": "local",
        "FIELDLINE_TABLE": TABLE,
        "FIELDLINE_AWS_ENDPOINT": aws_endpoint,
        "FIELDLINE_PUBLIC_BASE_URL": base_url,
        "FIELDLINE_LOCAL_DIR": str(local_dir),
        "FIELDLINE_STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "FIELDLINE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "FIELDLINE_STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "FIELDLINE_PHOTOS_BUCKET": PHOTO_BUCKET,
    }


def create_photo_bucket(aws_endpoint: str) -> None:
    """Job photos upload to moto's S3 through presigned URLs (POST /jobs/{id}/photos)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=PHOTO_BUCKET)


def chalice_server(port: int):
    """Chalice's local server for the `local` stage of .chalice/config.json, in this process."""
    from chalice.cli import create_local_server
    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(PROJECT_DIR), environ=os.environ)
    return create_local_server(factory, "127.0.0.1", port, "local")


def print_banner(base_url: str, aws_endpoint: str, stripe_port: int) -> None:
    print(
        f"""
Fieldline local stage
  API         {base_url}   (OpenAPI: {base_url}/openapi.json)
  AWS (moto)  {aws_endpoint}
  Stripe      http://127.0.0.1:{stripe_port}   (localstripe with Connect; webhooks ->
              /webhooks/stripe, connected accounts' -> /webhooks/stripe/connect)
  Clock       waits {os.environ.get("FIELDLINE_TIME_SCALE", "1")}x faster (FIELDLINE_TIME_SCALE);
              POST {base_url}/dev/reconcile runs a payment reconciliation now

Get a token:
  curl -s -X POST {base_url}/dev/tenants -H 'Content-Type: application/json' \\
       -d '{{"name": "Acme Plumbing", "timezone": "America/Chicago"}}'
  -> {{"tenant_id": ..., "owner_token": ...}}; send it as 'Authorization: Bearer <owner_token>'.
Ctrl-C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
