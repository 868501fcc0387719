"""What the price book's reads and its CSV import cost in DynamoDB calls, and how long they take
in-process against moto.

    python -m bench.pricebook [--items 2000]

Starts moto in-process, fills one tenant's book through the import (`--items` rows: services,
materials and fees in five categories), then counts (bench/ddbcalls.py) the calls of a name
prefix search, a category and kind search, the export, a dry run of the same file, and the
same file imported again (nothing changes). The counts are DynamoDB's work; the seconds are
moto's on this machine, not DynamoDB's.
"""

from __future__ import annotations

import argparse
import time

from bench import ddbcalls
from bench.calls import _caller
from bench.overhead import moto_table

KINDS = ("service", "material", "fee")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    items = parser.parse_args().items
    ddbcalls.install()
    with moto_table():
        report(items)


def _file(items: int) -> str:
    rows = ["kind,name,unit_price_cents,unit_cost_cents,category,duration_minutes"]
    for n in range(items):
        kind = KINDS[n % 3]
        minutes = "60" if kind == "service" else ""
        rows.append(f"{kind},Item {n:05d},{1000 + n},{400 + n},Category {n % 5},{minutes}")
    return "\r\n".join(rows) + "\r\n"


def report(items: int) -> None:
    from chalice.test import Client

    import app as fieldline

    client = Client(fieldline.app)
    token = _caller(client)("POST", "/dev/tenants", {"name": "Book Plumbing", "stripe": "none"})
    auth = _caller(client, token["owner_token"])
    text = _file(items)

    def upload(path: str):
        headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {token['owner_token']}"}
        response = client.http.request("POST", path, headers=headers, body=text.encode())
        assert response.status_code == 200, response.body[:500]

    def export():
        headers = {"Authorization": f"Bearer {token['owner_token']}"}
        response = client.http.request("GET", "/pricebook/export", headers=headers, body=b"")
        assert response.status_code == 200, response.body[:500]

    steps = [
        (f"POST /pricebook/import ({items} new rows)", lambda: upload("/pricebook/import")),
        ("GET /pricebook/items?q=item%2001", lambda: auth("GET", "/pricebook/items?q=item%2001")),
        (
            "GET /pricebook/items?category=Category%203&kind=fee",
            lambda: auth("GET", "/pricebook/items?category=Category%203&kind=fee"),
        ),
        ("GET /pricebook/export", export),
        (
            "POST /pricebook/import?dry_run=true (same file)",
            lambda: upload("/pricebook/import?dry_run=true"),
        ),
        ("POST /pricebook/import (same file: all unchanged)", lambda: upload("/pricebook/import")),
    ]
    print(f"{'step':52} {'seconds':>7}  calls by operation")
    for name, step in steps:
        with ddbcalls.counting() as calls:
            started = time.perf_counter()
            step()
            seconds = time.perf_counter() - started
        ops = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(f"{name:52} {seconds:7.2f}  {ops}")


if __name__ == "__main__":
    main()
