"""Warm overhead: Fieldline's own cost (validation, models, services, logging) on top of the
DynamoDB calls it cannot avoid.

    python -m bench.overhead [--rounds 200]

Each main route runs through `chalice.test.Client` on moto, interleaved with a bare Chalice
route that replays the *same* DynamoDB calls directly with boto3 (the calls are recorded from
the real route with botocore's parameter hook; writes get fresh ids each time so they stay
real writes). The writes measured create items: a replay cannot hold the version an update
conditions on, and updates run the same transaction code as creates.
Printed per route: the median and the p99 latency of each, and their ratios (Fieldline's p99
over the bare route's p99: the tail a client sees from each, compared).
Targets: p99 ratio <= 1.5 for reads, <= 2.0 for writes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from localstage import emulators

TABLE = "fieldline-bench"


def _environment(moto_port: int) -> None:
    os.environ.update(
        {
            **emulators.FAKE_AWS_ENV,
            "FIELDLINE_STAGE": "local",
            "FIELDLINE_TABLE": TABLE,
            "FIELDLINE_AWS_ENDPOINT": f"http://{emulators.LOOPBACK}:{moto_port}",
            "FIELDLINE_LOCAL_DIR": tempfile.mkdtemp(),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )


@contextmanager
def moto_table() -> Iterator[None]:
    """The app pointed at a fresh in-process moto holding the bench's table, stopped after
    (install any DynamoDB client hooks before: the table is made through a client too)."""
    port = emulators.free_port()
    _environment(port)
    server, endpoint = emulators.start_moto(port)
    try:
        emulators.create_table(endpoint, TABLE)
        yield
    finally:
        server.stop()


class Recorder:
    """Records the API parameters of every DynamoDB call a block makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.active = False

    def __call__(self, params, model, **_):
        if self.active:
            self.calls.append((model.name, json.loads(json.dumps(params, default=str))))


def _hook_clients(recorder: Recorder) -> None:
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb.*", recorder)
        return client

    botocore.session.Session.create_client = create_client


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    recorder = Recorder()
    _hook_clients(recorder)
    with moto_table():
        run(args.rounds, recorder)


def run(rounds: int, recorder: Recorder) -> None:
    import boto3
    from chalice import Chalice
    from chalice.test import Client

    import app as fieldline
    from chalicelib.domain.ids import new_id

    client = Client(fieldline.app)
    token, ids = _seed(client)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    routes = _routes(ids)

    bare_app = Chalice(app_name="bare")
    dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["FIELDLINE_AWS_ENDPOINT"])
    replay: dict[str, list[tuple[str, dict]]] = {}
    recorded_ids: dict[str, list[str]] = {}

    @bare_app.route("/bare/{name}", methods=["POST", "GET"])
    def bare(name):
        calls = replay[name]
        text = json.dumps(calls)
        for old in recorded_ids[name]:
            text = text.replace(old, new_id())  # a write stays a real write of a new item
        for operation, params in json.loads(text):
            getattr(dynamodb, _snake(operation))(**params)
        return {"ok": True}

    bare_client = Client(bare_app)
    for name, (method, path, body, _kind) in routes.items():
        recorder.calls, recorder.active = [], True
        before = _ids_in_table_snapshot(client, auth, method, path, body)
        recorder.active = False
        replay[name] = recorder.calls
        recorded_ids[name] = before

    print(
        f"{'route':30} {'kind':6} {'calls':>5} {'ms median':>15} {'ms p99':>15} "
        f"{'median':>7} {'p99':>7}  target"
    )
    for name, (method, path, body, kind) in routes.items():
        ours, base = [], []
        for _ in range(rounds):
            ours.append(_timed(client, method, path, body, auth))
            base.append(_timed(bare_client, "POST", f"/bare/{name}", None, {}))
        median = (statistics.median(ours), statistics.median(base))
        p99 = (_p99(ours), _p99(base))
        target = 1.5 if kind == "read" else 2.0
        verdict = "ok" if p99[0] / p99[1] <= target else "over"
        print(
            f"{method + ' ' + name:30} {kind:6} {len(replay[name]):>5} "
            f"{median[0] * 1000:7.2f}/{median[1] * 1000:<7.2f} {p99[0] * 1000:7.2f}/"
            f"{p99[1] * 1000:<7.2f} {median[0] / median[1]:7.2f} {p99[0] / p99[1]:7.2f}"
            f"  <= {target} {verdict}"
        )


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def _ids_in_table_snapshot(client, auth, method, path, body) -> list[str]:
    """Run the route once (recording its calls) and return the ids it created."""
    response = client.http.request(method, path, headers=auth, body=json.dumps(body or {}))
    data = json.loads(response.body or b"{}")
    return [data["id"]] if method == "POST" and isinstance(data, dict) and "id" in data else []


def _timed(client, method, path, body, headers) -> float:
    payload = json.dumps(body) if body is not None else b""
    started = time.perf_counter()
    response = client.http.request(method, path, headers=headers, body=payload)
    elapsed = time.perf_counter() - started
    assert response.status_code < 400, (path, response.body)
    return elapsed


def _seed(client) -> tuple[str, dict[str, str]]:
    def post(path, body, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = client.http.post(path, headers=headers, body=json.dumps(body))
        return json.loads(response.body)

    # No Stripe account: the bench runs without localstripe (as bench.calls does).
    token = post("/dev/tenants", {"name": "Bench Plumbing", "stripe": "none"})["owner_token"]
    customer = post("/customers", {"name": "Dana Bench", "phone": "312-555-0142"}, token)
    job = post("/leads", {"customer_id": customer["id"], "title": "Bench job"}, token)
    for n in range(5):
        post(f"/jobs/{job['id']}/notes", {"text": f"note {n}"}, token)
    return token, {"customer_id": customer["id"], "job_id": job["id"]}


def _routes(ids: dict[str, str]) -> dict[str, tuple[str, str, dict | None, str]]:
    job = ids["job_id"]
    return {
        "job": ("GET", f"/jobs/{job}", None, "read"),
        "timeline": ("GET", f"/jobs/{job}/timeline", None, "read"),
        "jobs_by_stage": ("GET", "/jobs?stage=lead", None, "read"),
        "customer_search": ("GET", "/customers?q=dana", None, "read"),
        "settings": ("GET", "/settings", None, "read"),
        "create_customer": ("POST", "/customers", {"name": "Eve", "phone": "3125550177"}, "write"),
        "create_lead": (
            "POST",
            "/leads",
            {"customer_id": ids["customer_id"], "title": "Dripping tap"},
            "write",
        ),
    }


if __name__ == "__main__":
    main()
