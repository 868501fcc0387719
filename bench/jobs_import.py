"""What the jobs history import (POST /imports/jobs) costs in DynamoDB calls, and how long it
takes in-process against moto.

    python -m bench.jobs_import [--jobs 2000]

Starts moto in-process, makes a tenant, then counts (bench/ddbcalls.py) the calls of a dry run
of a `--jobs`-row file (one customer per ten jobs, every customer new), the real run (customers
added with their first job, 16 jobs a transaction) and the same file again (nothing new). The
counts are DynamoDB's work; the seconds are moto's on this machine, not DynamoDB's.
"""

from __future__ import annotations

import argparse
import time

from bench import ddbcalls
from bench.calls import _caller
from bench.overhead import moto_table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    jobs = parser.parse_args().jobs
    ddbcalls.install()
    with moto_table():
        report(jobs)


def _file(jobs: int) -> str:
    rows = ["customer_phone,customer_name,title,description,date,status,total,currency"]
    for n in range(jobs):
        customer = n // 10
        day = f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}"
        rows.append(
            f"312-555-{customer:04d},Customer {customer},Job {n:05d},,{day},paid,{100 + n}.50,USD"
        )
    return "\r\n".join(rows) + "\r\n"


def report(jobs: int) -> None:
    from chalice.test import Client

    import app as fieldline

    client = Client(fieldline.app)
    token = _caller(client)("POST", "/dev/tenants", {"name": "History Plumbing", "stripe": "none"})
    text = _file(jobs)

    def upload(path: str) -> dict:
        headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {token['owner_token']}"}
        response = client.http.request("POST", path, headers=headers, body=text.encode())
        assert response.status_code == 200, response.body[:500]
        return response

    steps = [
        (f"POST /imports/jobs?dry_run=true ({jobs} rows)", "/imports/jobs?dry_run=true"),
        (f"POST /imports/jobs ({jobs} new jobs)", "/imports/jobs"),
        ("POST /imports/jobs (same file: nothing new)", "/imports/jobs"),
    ]
    print(f"{'step':48} {'seconds':>7}  calls by operation")
    for name, path in steps:
        with ddbcalls.counting() as calls:
            started = time.perf_counter()
            upload(path)
            seconds = time.perf_counter() - started
        ops = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(f"{name:48} {seconds:7.2f}  {ops}")


if __name__ == "__main__":
    main()
