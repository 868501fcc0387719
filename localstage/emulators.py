"""Start the emulators the local stage and the tests share: moto in-process, localstripe."""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

LOOPBACK = "127.0.0.1"
# Where `python -m localstage...` finds this package, whatever directory started the stage.
REPOSITORY = Path(__file__).resolve().parents[1]
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def start_moto(port: int | None = None):
    """An in-process moto server on loopback. Returns (server, endpoint_url)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    os.environ.update(FAKE_AWS_ENV)
    # AWS_ENDPOINT_URL would send every boto3 client elsewhere (ARCHITECTURE.md: emulators).
    os.environ.pop("AWS_ENDPOINT_URL", None)
    serialize_dynamodb_requests()
    roll_back_only_touched_items()
    query_one_partition()
    enforce_post_policies()
    port = port or free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    return server, f"http://{LOOPBACK}:{port}"


_DYNAMODB_REQUEST_LOCK = threading.RLock()


def serialize_dynamodb_requests() -> None:
    """Handle one DynamoDB request at a time, as DynamoDB's transactions behave.

    moto (5.2) applies a TransactWriteItems one item after another with no lock, and undoes a
    failed one by restoring a copy of the whole table taken when it began. Under the threaded
    server two racing transactions can then both pass their version checks, and a rollback can
    erase a write another request committed meanwhile. Serializing requests removes the
    emulator's race, so a concurrency test races our conditions, not moto's internals.
    """
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "serialized", False):
        return

    @functools.wraps(original)
    def call_action(self):
        with _DYNAMODB_REQUEST_LOCK:
            return original(self)

    call_action.serialized = True
    DynamoHandler.call_action = call_action


def roll_back_only_touched_items() -> None:
    """Make moto's TransactWriteItems cost what the transaction touches, not the table size.

    moto (5.2) deep-copies every table a transaction names, once per item, so that it can
    restore the table if the transaction fails: the cost grows with everything ever written.
    Instead, keep copies of just the items the transaction names and put those back.
    """
    import copy

    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "touched_items_only", False):
        return

    class _KeepTables:
        """`copy` for moto's module: tables are not copied (we restore items ourselves)."""

        @staticmethod
        def deepcopy(value, memo=None):
            if isinstance(value, models.Table):
                return value
            return copy.deepcopy(value, memo)

    models.copy = _KeepTables

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        before = [_snapshot(self, op) for item in transact_items for op in item.values()]
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, saved in reversed(before):
                _restore(self, table_name, key, saved)
            raise

    transact_write_items.touched_items_only = True
    models.DynamoDBBackend.transact_write_items = transact_write_items


def query_one_partition() -> None:
    """Make moto's Query on the table cost what the partition holds, not the table size.

    moto (5.2) answers a Query without an index by sorting every item of the table and keeping
    the partition's, so each one slows as the session's table grows (with thousands of jobs,
    most of a second). It keeps items by hash key: hand that Query just the partition's items.
    Queries on an index are left as they are (moto keeps no index to read from).
    """
    import inspect

    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    if getattr(original_query, "one_partition", False):
        return
    signature = inspect.signature(original_query)
    if "index_name" not in signature.parameters or "hash_key" not in signature.parameters:
        raise RuntimeError("moto's Table.query changed: revisit query_one_partition")
    narrowed = threading.local()

    def all_items(self):
        hash_key = getattr(narrowed, "hash_key", None)
        if hash_key is None or not self.range_key_attr:
            return original_all_items(self)
        partition = self.items.get(hash_key, {})  # a defaultdict: .get adds nothing
        return sorted(partition.values(), key=lambda item: item.range_key)

    @functools.wraps(original_query)
    def query(self, *args, **kwargs):
        call = signature.bind(self, *args, **kwargs)
        if call.arguments.get("index_name") or call.arguments.get("hash_key") is None:
            return original_query(self, *args, **kwargs)
        narrowed.hash_key = call.arguments["hash_key"]
        try:
            return original_query(self, *args, **kwargs)
        finally:
            narrowed.hash_key = None

    query.one_partition = True
    Table.query, Table.all_items = query, all_items


# Form fields a POST policy need not name (S3's rule: the signature, the file, the policy).
UNCONDITIONED_FIELDS = {"policy", "file", "x-amz-signature", "signature", "awsaccesskeyid"}


def enforce_post_policies() -> None:
    """Make moto's S3 refuse a browser POST upload that breaks its policy, as S3 does.

    moto (5.2) stores whatever a POST form carries: a file larger than the policy's
    content-length-range, another Content-Type or key, a form sent after the policy expired.
    S3 answers 400 EntityTooLarge / EntityTooSmall for the size and 403 AccessDenied
    ("Invalid according to Policy: ...") for the rest; so does this. Signatures stay unchecked
    (moto checks no credentials).
    """
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post
    if getattr(original, "policy_enforced", False):
        return

    @functools.wraps(original)
    def bucket_response_post(self, request, bucket_name):
        form = getattr(self, "form_data", None) or {}
        if "policy" in form:
            size = len(self.body or b"")
            refused = post_policy_refusal(form, bucket_name, size, datetime.now(UTC))
            if refused is not None:
                status, code, message = refused
                return status, {"Content-Type": "application/xml"}, _s3_error(code, message)
        return original(self, request, bucket_name)

    bucket_response_post.policy_enforced = True
    S3Response._bucket_response_post = bucket_response_post


def post_policy_refusal(form, bucket: str, size: int, now: datetime):
    """(status, code, message) of S3's refusal of this POST form, or None if it passes."""
    policy = json.loads(base64.b64decode(form["policy"]))
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    if expires <= now:
        return 403, "AccessDenied", "Invalid according to Policy: Policy expired."
    fields = {name.lower(): value for name, value in form.items()} | {"bucket": bucket}
    named = {"bucket"}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, expected),) = condition.items()
            operator = "eq"
        elif condition[0].lower() == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size > high:
                return (
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                )
            if size < low:
                return (
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                )
            continue
        else:
            operator, name, expected = condition[0].lower(), condition[1], condition[2]
        name = name.removeprefix("$").lower()
        named.add(name)
        actual = fields.get(name, "")
        if not (actual == expected if operator == "eq" else actual.startswith(expected)):
            failed = json.dumps(
                condition if isinstance(condition, list) else ["eq", f"${name}", expected]
            )
            return (
                403,
                "AccessDenied",
                f"Invalid according to Policy: Policy Condition failed: {failed}",
            )
    extra = sorted(
        name
        for name in fields
        if name not in named | UNCONDITIONED_FIELDS and not name.startswith("x-ignore-")
    )
    if extra:
        return (
            403,
            "AccessDenied",
            f"Invalid according to Policy: Extra input fields: {', '.join(extra)}",
        )
    return None


def _s3_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )


def _snapshot(backend, op: dict):
    import copy

    table = backend.get_table(op["TableName"])
    attrs = op.get("Key") or op["Item"]
    key = {name: attrs[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
    current = backend.get_item(op["TableName"], key)
    return op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None


def _restore(backend, table_name: str, key: dict, saved: dict | None) -> None:
    if saved is not None:
        backend.put_item(table_name, saved)
    elif backend.get_item(table_name, key) is not None:
        backend.delete_item(table_name, key)


def create_table(endpoint_url: str, table_name: str) -> None:
    import boto3

    from chalicelib.store.table import create_table as create

    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
    create(client, table_name)


def start_localstripe(port: int, log_path: Path | None = None) -> subprocess.Popen:
    """localstripe as a child process; waits until it answers."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    # --from-scratch: localstripe otherwise loads localstripe.pickle in the system's temporary
    # folder, one file that every localstripe on the machine rewrites on each change; starting
    # while another one writes it fails (EOFError), and a stage would inherit another run's
    # objects.
    # localstripe_strict: localstripe refusing what Stripe refuses and it accepts (see there).
    strict = "localstage.localstripe_strict"
    command = [sys.executable, "-m", strict, "--port", str(port), "--from-scratch"]
    process = subprocess.Popen(
        command, stdout=log, stderr=log, start_new_session=True, cwd=REPOSITORY
    )
    wait_until_up(f"http://{LOOPBACK}:{port}/v1/customers", process, headers=stripe_auth())
    return process


def stripe_auth() -> dict[str, str]:
    return {"Authorization": "Bearer sk_test_local"}


def wait_until_up(url: str, process=None, headers=None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers, if only to refuse
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def register_stripe_webhook(stripe_port: int, url: str, secret: str, connect: bool = False):
    """localstripe signs and posts its events to `url` like Stripe does: the platform's events,
    or (`connect`) the connected accounts' (localstage/localstripe_strict.py), each endpoint
    with its own secret."""
    import urllib.parse

    kind = "connect_webhooks" if connect else "webhooks"
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{stripe_port}/_config/{kind}/fieldline",
        data=data,
        headers=stripe_auth(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5)
