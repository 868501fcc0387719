"""Money and state invariants of a tenant's data, read straight from the table.

Fuzz and fault tests end with `assert_invariants(...)`: whatever was sent, retried, throttled
or cut off half-way, what is stored must still add up.

- Money: per invoice, what its payments kept (received less refunded) equals what the invoice
  says it was paid, and equals total minus balance (a void invoice owes nothing).
- State: no job is `paid` while one of its invoices is open; an invoice sits in the status
  index of its own status.
- Time: no technician holds two overlapping visits, and each technician day lock agrees with
  the visits: a visit that holds time is booked on each of its technicians' days, and a day
  books nothing that no longer holds time.
- Timeline: events are ordered per job (sort key order is `at` order, the key's time is the
  event's), no event id repeats, and no payment is told twice as received.

Reads are Queries, per tenant and per job, as the app reads (DESIGN §3: no Scan). The tenant's
jobs come from its jobs index, its technicians from its users index. A Scan would also trip the
session's guard (tests/conftest.py forbids Scan on every hooked client), and reading by known
tenants keeps each check independent of what other tests wrote to the shared table.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain import invoices as invoice_rules
from chalicelib.domain.visits import HOLDS_TIME
from chalicelib.store import keys

OPEN_INVOICE = ("draft", "sent", "partially_paid", "uncollectible")
RECEIVED_EVENTS = ("PaymentSucceeded", "PaymentRecorded")


@dataclass
class TenantData:
    """Everything the invariants look at for one tenant, grouped by item type."""

    tenant_id: str
    jobs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    tech_days: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Reader:
    """Queries the table with a plain boto3 client (the app's own endpoint and table)."""

    def __init__(self, client, table: str):
        self.client, self.table = client, table

    def query(self, **kwargs) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        items = []
        for page in self.client.get_paginator("query").paginate(TableName=self.table, **kwargs):
            for raw in page["Items"]:
                items.append(_plain({k: deserializer.deserialize(v) for k, v in raw.items()}))
        return items

    def by_key(self, pk: str) -> list[dict[str, Any]]:
        return self.query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )

    def by_index(self, index: str, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        condition, values = f"{index}PK = :pk", {":pk": {"S": pk}}
        if sk_prefix:
            condition += f" AND begins_with({index}SK, :sk)"
            values[":sk"] = {"S": sk_prefix}
        return self.query(
            IndexName=index, KeyConditionExpression=condition, ExpressionAttributeValues=values
        )

    def tenant(self, tenant_id: str) -> TenantData:
        data = TenantData(tenant_id)
        for job in self.by_index(keys.GSI1, keys.jobs_index(tenant_id), "STAGE#"):
            job_id = job["data"]["job_id"]
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for item in self.by_key(keys.job_partition(tenant_id, job_id)):
                grouped[item["type"]].append(item)
            data.jobs[job_id] = grouped
        for user in self.by_index(keys.GSI1, keys.users_index(tenant_id), "technician#"):
            user_id = user["data"]["user_id"]
            data.tech_days[user_id] = self.by_key(keys.tech_day(tenant_id, user_id, "").pk)
        return data


def check(reader: Reader, tenant_id: str) -> list[str]:
    """Every invariant broken in the tenant's data, each as a sentence naming the objects."""
    data = reader.tenant(tenant_id)
    problems: list[str] = []
    for job_id, items in data.jobs.items():
        problems += money_adds_up(job_id, items, tenant_id)
        problems += paid_job_has_no_open_invoice(job_id, items)
        problems += timeline_is_ordered(job_id, items)
    problems += no_technician_is_double_booked(data)
    return problems


def assert_invariants(reader: Reader, *tenant_ids: str) -> None:
    problems = [f"{t}: {p}" for t in tenant_ids for p in check(reader, t)]
    assert problems == [], "\n".join(problems)


def local_reader(endpoint: str, table: str) -> Reader:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    return Reader(client, table)


# --- the invariants ---------------------------------------------------------------------------


def money_adds_up(job_id: str, items: dict, tenant_id: str) -> list[str]:
    problems = []
    payments = [item["data"] for item in items.get("payment", [])]
    for item in items.get("invoice", []):
        invoice = item["data"]
        invoice_id, status = invoice["invoice_id"], invoice["status"]
        mine = [p for p in payments if p["invoice_id"] == invoice_id]
        kept = sum(
            p["amount_cents"] - sum(r["amount_cents"] for r in p.get("refunds") or [])
            for p in mine
            if p["status"] in invoice_rules.SETTLED
        )
        recorded = invoice["amount_paid_cents"] - invoice["refunded_cents"]
        if kept != recorded:
            problems.append(
                f"invoice {invoice_id} of job {job_id}: its payments kept {kept} "
                f"but it records {recorded} paid"
            )
        owed = 0 if status == "void" else invoice["total_cents"] - recorded
        if invoice["balance_cents"] != owed:
            problems.append(
                f"invoice {invoice_id} of job {job_id}: balance {invoice['balance_cents']} "
                f"is not total {invoice['total_cents']} less {recorded} paid"
            )
        if item.get("GSI1PK") != keys.invoices_by_status_index(tenant_id, status):
            problems.append(f"invoice {invoice_id} is {status} but indexed as {item.get('GSI1PK')}")
    return problems


def paid_job_has_no_open_invoice(job_id: str, items: dict) -> list[str]:
    headers = items.get("job", [])
    if not headers or headers[0]["data"]["stage"] != "paid":
        return []
    return [
        f"job {job_id} is paid but invoice {i['data']['invoice_id']} is {i['data']['status']}"
        for i in items.get("invoice", [])
        if i["data"]["status"] in OPEN_INVOICE
    ]


def timeline_is_ordered(job_id: str, items: dict) -> list[str]:
    problems = []
    events = sorted(items.get("event", []), key=lambda e: e["SK"])
    previous: datetime | None = None
    for item in events:
        at = datetime.fromisoformat(item["data"]["at"].replace("Z", "+00:00"))
        if not item["SK"].startswith(f"{keys.TIMELINE_PREFIX}{clock.iso(at)}#"):
            problems.append(f"job {job_id}: event {item['SK']} is keyed at another time than {at}")
        if previous is not None and at < previous:
            problems.append(f"job {job_id}: event {item['SK']} sorts after a later event")
        previous = at
    ids = Counter(e["data"]["event_id"] for e in events)
    problems += [f"job {job_id}: event {i} is stored {n} times" for i, n in ids.items() if n > 1]
    received = Counter(
        e["data"]["data"].get("payment_id") for e in events if e["data"]["type"] in RECEIVED_EVENTS
    )
    problems += [
        f"job {job_id}: payment {p} was received {n} times" for p, n in received.items() if n > 1
    ]
    return problems


def no_technician_is_double_booked(data: TenantData) -> list[str]:
    problems = []
    holding: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for items in data.jobs.values():
        for item in items.get("visit", []):
            visit = item["data"]
            if visit["status"] in HOLDS_TIME:
                for technician_id in visit.get("technician_ids") or []:
                    holding[technician_id].append(visit)
    for technician_id in data.tech_days.keys() | holding.keys():
        visits = sorted(holding.get(technician_id, []), key=lambda v: _at(v["start"]))
        for earlier, later in zip(visits, visits[1:], strict=False):
            if _at(later["start"]) < _at(earlier["end"]):
                problems.append(
                    f"technician {technician_id} holds overlapping visits "
                    f"{earlier['visit_id']} and {later['visit_id']}"
                )
        booked = {
            booking["visit_id"]: booking
            for day in data.tech_days.get(technician_id, [])
            for booking in day["data"].get("bookings") or []
        }
        for visit in visits:
            booking = booked.get(visit["visit_id"])
            if booking is None or _at(booking["start"]) != _at(visit["start"]):
                problems.append(
                    f"visit {visit['visit_id']} holds {technician_id}'s time "
                    "but their day does not book it there"
                )
        ghosts = booked.keys() - {v["visit_id"] for v in visits}
        problems += [f"{technician_id}'s day books {g}, which holds no time" for g in ghosts]
    return problems


# --- reading ----------------------------------------------------------------------------------


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
