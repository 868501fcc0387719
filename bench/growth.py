"""What a job's main operations cost as its history grows, as listed in docs/PERFORMANCE.md.

    python -m bench.growth [--rounds 15]

Starts moto in-process and one tenant with three jobs: one visit; 100 visits; 1,000 visits
(daily series of 60) with 5,000 timeline events. For each operation it prints the DynamoDB
calls, the items they read and the median latency over `--rounds` runs (the jobs taken in
turn, so a noisy moment hits each alike), and the latency ratio of the largest job to the
smallest. moto is slower than DynamoDB, but the calls and items are what DynamoDB would do.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench import ddbcalls
from bench.calls import _caller
from bench.overhead import moto_table

SIZES = {"1 visit": (1, 0), "100 visits": (100, 0), "1,000 visits + 5,000 events": (1000, 5000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    ddbcalls.install()
    with moto_table():
        report(rounds)


def report(rounds: int) -> None:
    from chalice.test import Client

    import app as fieldline

    client = Client(fieldline.app)
    tenant = {"name": "Growth Lawns", "stripe": "none"}  # the bench runs without localstripe
    token = _caller(client)("POST", "/dev/tenants", tenant)["owner_token"]
    call = _caller(client, token)
    tenant_id = call("GET", "/settings")["tenant_id"]
    jobs = {
        name: _job(call, tenant_id, call("POST", "/technicians", _technician()), *size)
        for name, size in SIZES.items()
    }
    print(f"{'operation':22} {'job':30} {'calls':>5} {'items':>6} {'median ms':>10}")
    for operation in OPERATIONS:
        timings: dict[str, list[float]] = {name: [] for name in jobs}
        counted = {}
        for _ in range(rounds):
            for name, (job_id, visit_id) in jobs.items():
                with ddbcalls.counting() as calls:
                    started = time.perf_counter()
                    OPERATIONS[operation](call, job_id, visit_id)
                    timings[name].append((time.perf_counter() - started) * 1000)
                counted[name] = (sum(calls.values()), calls.items_read)
        medians = {name: statistics.median(found) for name, found in timings.items()}
        for name in jobs:
            made, read = counted[name]
            print(f"{operation:22} {name:30} {made:5} {read:6} {medians[name]:10.1f}")
        ratio = medians[list(jobs)[-1]] / medians[list(jobs)[0]]
        print(f"{'':22} {'ratio largest / smallest':30} {'':5} {'':6} {ratio:10.2f}")


OPERATIONS = {
    "GET /jobs/{id}": lambda call, job, visit: call("GET", f"/jobs/{job}"),
    "GET visit": lambda call, job, visit: call("GET", f"/jobs/{job}/visits/{visit}"),
    "GET visits (page)": lambda call, job, visit: call("GET", f"/jobs/{job}/visits?limit=20"),
    "POST note": lambda call, job, visit: call("POST", f"/jobs/{job}/notes", {"text": "gate"}),
    "PATCH job": lambda call, job, visit: call("PATCH", f"/jobs/{job}", {"priority": "high"}),
    "visit reschedule": lambda call, job, visit: call(
        "POST",
        f"/jobs/{job}/visits/{visit}/reschedule",
        {"window_start": "2030-06-03T08:00:00-05:00", "window_end": "2030-06-03T09:00:00-05:00"},
    ),
}


def _technician() -> dict:
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {
        "name": "Sam Ortiz",
        "phone": "(312) 555-0177",
        "shift": {"days": every_day, "start": "00:00", "end": "23:59"},
    }


def _job(call, tenant_id: str, tech: dict, visits: int, events: int) -> tuple[str, str]:
    """A job with one visit to measure on, `visits - 1` more in daily series, and `events`
    extra timeline events written straight to the table."""
    customer = call("POST", "/customers", {"name": "Pat Green", "phone": "(312) 555-0190"})
    job = call("POST", "/leads", {"customer_id": customer["id"], "title": "Weekly lawn"})
    measured = call(
        "POST",
        f"/jobs/{job['id']}/visits",
        {
            "window_start": "2030-06-03T10:00:00-05:00",
            "window_end": "2030-06-03T10:30:00-05:00",
            "duration_minutes": 30,
            "technician_ids": [tech["id"]],
        },
    )
    for series, first in enumerate(range(1, visits, 60)):
        series_hour = 5 + series  # 17 series of 60 days, each at its own hour
        call(
            "POST",
            f"/jobs/{job['id']}/visits",
            {
                "window_start": f"2031-01-01T{series_hour:02d}:00:00-05:00",
                "window_end": f"2031-01-01T{series_hour:02d}:20:00-05:00",
                "duration_minutes": 15,
                "technician_ids": [tech["id"]],
                "recurrence": f"RRULE:FREQ=DAILY;COUNT={min(60, visits - first)}",
            },
        )
    _seed_events(tenant_id, job["id"], events)
    return job["id"], measured["id"]


def _seed_events(tenant_id: str, job_id: str, count: int) -> None:
    from chalicelib.domain.timeline import event
    from chalicelib.store.jobs import event_item
    from chalicelib.store.models import Item

    with Item.batch_write() as batch:
        for n in range(count):
            batch.save(event_item(tenant_id, event(job_id, "NoteAdded", "seed", n=n)))


if __name__ == "__main__":
    main()
