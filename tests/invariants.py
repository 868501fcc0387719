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

`check_ledger` adds the job's ledger (chalicelib/domain/ledger.py), as a bookkeeper reads it:

- Money: what a job's payments kept (collected − refunded − lost in disputes) is at most what
  its non-void invoices bill.
- Scope billed once: a live final invoice bills the approved option of the job's approved quote
  (its `scope` lines) and credits every live deposit and progress invoice written before it was
  sent once, by minus that invoice's total; it credits no void invoice.
- Stages follow the money: an open job is `paid` exactly when a live final invoice was sent and
  every live invoice is paid; a sent final with anything unpaid makes it `invoiced`. A lost or
  cancelled job has every visit completed or called off and no draft invoice (but one a sent
  final credits).
- Numbers: the tenant's sent invoices are numbered 1..N, each number once.
- Timeline: each settled payment is told once as received, each refund once as RefundIssued,
  each lost dispute once as DisputeLost.

Reads are Queries, per tenant and per job, as the app reads (ARCHITECTURE.md: no Scan). The tenant's
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
CLOSED_JOB = ("lost", "cancelled")
# Closing a job calls off every visit but these.
VISIT_DONE = ("completed", "cancelled")


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

    def tenant(
        self,
        tenant_id: str,
        job_ids: list[str] | None = None,
        technician_ids: list[str] | None = None,
    ) -> TenantData:
        """The tenant's jobs and technicians' days. A caller that knows the ids (a test that
        made them) passes them: then only partitions are read, no index (moto reads the whole
        table for an index query)."""
        data = TenantData(tenant_id)
        if job_ids is None:
            found = self.by_index(keys.GSI1, keys.jobs_index(tenant_id), "STAGE#")
            job_ids = [job["data"]["job_id"] for job in found]
        for job_id in job_ids:
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for item in self.by_key(keys.job_partition(tenant_id, job_id)):
                grouped[item["type"]].append(item)
            data.jobs[job_id] = grouped
        if technician_ids is None:
            found = self.by_index(keys.GSI1, keys.users_index(tenant_id), "technician#")
            technician_ids = [user["data"]["user_id"] for user in found]
        for user_id in technician_ids:
            data.tech_days[user_id] = self.by_key(keys.tech_day(tenant_id, user_id, "").pk)
        return data


def check(reader: Reader, tenant_id: str) -> list[str]:
    """Every invariant broken in the tenant's data, each as a sentence naming the objects."""
    return problems_of(reader.tenant(tenant_id))


def problems_of(data: TenantData) -> list[str]:
    problems: list[str] = []
    for job_id, items in data.jobs.items():
        problems += money_adds_up(job_id, items, data.tenant_id)
        problems += paid_job_has_no_open_invoice(job_id, items)
        problems += timeline_is_ordered(job_id, items)
    problems += no_technician_is_double_booked(data)
    return problems


def check_ledger(
    reader: Reader,
    tenant_id: str,
    job_ids: list[str] | None = None,
    technician_ids: list[str] | None = None,
) -> list[str]:
    """`check`, and the job's ledger: every rule broken, each as a sentence."""
    return ledger_problems(reader.tenant(tenant_id, job_ids, technician_ids))


def ledger_problems(data: TenantData) -> list[str]:
    problems = problems_of(data)
    for job_id, items in data.jobs.items():
        problems += job_keeps_at_most_what_it_bills(job_id, items)
        problems += scope_is_billed_once(job_id, items)
        problems += stage_follows_the_money(job_id, items)
        problems += closed_job_holds_nothing(job_id, items)
        problems += money_movements_are_told_once(job_id, items)
    problems += invoice_numbers_have_no_gaps(data)
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
        kept = sum(_kept(p) for p in mine)
        recorded = _net_paid(invoice)
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


# --- the job's ledger -------------------------------------------------------------------------


def job_keeps_at_most_what_it_bills(job_id: str, items: dict) -> list[str]:
    payments = [item["data"] for item in items.get("payment", [])]
    problems = [
        f"payment {p['payment_id']} of job {job_id} says it kept {p['kept_cents']} "
        f"but received {p['amount_cents']}, refunded {_refunded(p)} and lost {_lost(p)}"
        for p in payments
        if "kept_cents" in p and p["kept_cents"] != _kept(p)
    ]
    kept = sum(_kept(p) for p in payments)
    billed = sum(i["total_cents"] for i in _invoices(items) if i["status"] != "void")
    if kept > billed:
        problems.append(f"job {job_id} kept {kept} but its live invoices bill only {billed}")
    return problems


def scope_is_billed_once(job_id: str, items: dict) -> list[str]:
    invoices = _invoices(items)
    final = next((i for i in invoices if i["kind"] == "final" and i["status"] != "void"), None)
    if final is None:
        return []
    name = f"final invoice {final['invoice_id']} of job {job_id}"
    problems = []
    billed = [_line_terms(line) for line in final["line_items"] if line.get("kind") == "scope"]
    scope = [_line_terms(line) for line in job_scope(items)]
    if billed != scope:
        problems.append(f"{name} bills {billed} as the scope, but the job's scope is {scope}")
    credits = Counter(
        line.get("credits_invoice_id")
        for line in final["line_items"]
        if line.get("kind") == "credit"
    )
    sent_at = _when(final.get("sent_at"))
    by_id = {i["invoice_id"]: i for i in invoices}
    for advance in invoices:
        if advance["kind"] not in ("deposit", "progress") or advance["status"] == "void":
            continue
        if sent_at is not None and _when(advance["created_at"]) > sent_at:
            continue  # written after the final went out: extra work, billed on its own
        times = credits.get(advance["invoice_id"], 0)
        if times != 1:
            problems.append(
                f"{name} credits {advance['kind']} invoice {advance['invoice_id']} {times} times"
            )
    for line in final["line_items"]:
        if line.get("kind") != "credit":
            continue
        credited = by_id.get(line.get("credits_invoice_id"))
        if credited is None or credited["status"] == "void":
            problems.append(
                f"{name} credits {line.get('credits_invoice_id')}, which is no live invoice"
            )
        elif sent_at is not None and credited["status"] == "draft":
            problems.append(f"{name} went out crediting draft invoice {credited['invoice_id']}")
        elif line["amount_cents"] + line["tax_cents"] != -credited["total_cents"]:
            problems.append(
                f"{name} credits {line['amount_cents'] + line['tax_cents']} for invoice "
                f"{credited['invoice_id']} of total {credited['total_cents']}"
            )
    return problems


def job_scope(items: dict) -> list[dict[str, Any]]:
    """The lines of the approved option of the job's approved (never superseded) quote; the
    latest approval when more than one quote says approved."""
    approved = [q["data"] for q in items.get("quote", []) if q["data"]["status"] == "approved"]
    if not approved:
        return []
    quote = max(approved, key=lambda q: (q.get("approved_at") or q["created_at"], q["quote_id"]))
    option = next(
        (o for o in quote["options"] if o["option_id"] == quote.get("approved_option_id")), None
    )
    return option["line_items"] if option else []


def stage_follows_the_money(job_id: str, items: dict) -> list[str]:
    stage = _job(items)["stage"]
    if stage in CLOSED_JOB:
        return []
    live = [i for i in _invoices(items) if i["status"] != "void"]
    final_sent = any(i["kind"] == "final" and i["status"] != "draft" for i in live)
    all_paid = all(i["status"] == "paid" for i in live)
    if final_sent and all_paid and stage != "paid":
        return [f"job {job_id} is {stage}, but its final invoice was sent and all are paid"]
    if final_sent and not all_paid and stage != "invoiced":
        unpaid = [f"{i['invoice_id']} ({i['status']})" for i in live if i["status"] != "paid"]
        return [f"job {job_id} is {stage} with unpaid invoices {', '.join(unpaid)}"]
    if not final_sent and stage == "paid":
        return [f"job {job_id} is paid, but no final invoice of it was sent"]
    return []


def closed_job_holds_nothing(job_id: str, items: dict) -> list[str]:
    """A lost or cancelled job: every visit done or called off, no draft left to send (but a
    draft a sent final credits: voiding it would take it off what the customer owes)."""
    stage = _job(items)["stage"]
    if stage not in CLOSED_JOB:
        return []
    visits = [v["data"] for v in items.get("visit", []) if v["data"]["status"] not in VISIT_DONE]
    credited = _credited_by_issued_final(items)
    drafts = [
        i for i in _invoices(items) if i["status"] == "draft" and i["invoice_id"] not in credited
    ]
    held = [f"visit {v['visit_id']} is {v['status']}" for v in visits]
    held += [f"invoice {i['invoice_id']} is a draft" for i in drafts]
    return [f"job {job_id} is {stage} but {what}" for what in held]


def _credited_by_issued_final(items: dict) -> set[str]:
    return {
        line.get("credits_invoice_id")
        for i in _invoices(items)
        if i["kind"] == "final" and i["status"] not in ("draft", "void")
        for line in i["line_items"]
        if line.get("kind") == "credit"
    }


def invoice_numbers_have_no_gaps(data: TenantData) -> list[str]:
    numbers = sorted(
        i["number"]
        for items in data.jobs.values()
        for i in _invoices(items)
        if i.get("number") is not None
    )
    if numbers != list(range(1, len(numbers) + 1)):
        return [f"tenant {data.tenant_id}'s invoices are numbered {numbers}"]
    return []


def money_movements_are_told_once(job_id: str, items: dict) -> list[str]:
    events = [e["data"] for e in items.get("event", [])]

    def told(types: tuple[str, ...], field_name: str) -> Counter:
        return Counter(e["data"].get(field_name) for e in events if e["type"] in types)

    received = told(RECEIVED_EVENTS, "payment_id")
    refunded = told(("RefundIssued",), "refund_id")
    lost = told(("DisputeLost",), "payment_id")
    problems = []
    for payment in (item["data"] for item in items.get("payment", [])):
        payment_id = payment["payment_id"]
        settled = payment["status"] in invoice_rules.SETTLED
        if received[payment_id] != int(settled):
            problems.append(
                f"job {job_id}: payment {payment_id} ({payment['status']}) is told "
                f"{received[payment_id]} times as received"
            )
        for refund in payment.get("refunds") or []:
            if refunded[refund["refund_id"]] != 1:
                problems.append(
                    f"job {job_id}: refund {refund['refund_id']} of payment {payment_id} is told "
                    f"{refunded[refund['refund_id']]} times"
                )
        was_lost = payment.get("dispute_status") == "lost" or _lost(payment) > 0
        if lost[payment_id] != int(was_lost):
            problems.append(
                f"job {job_id}: payment {payment_id} (dispute {payment.get('dispute_status')}) "
                f"is told {lost[payment_id]} times as lost in a dispute"
            )
    return problems


# --- reading ----------------------------------------------------------------------------------


def _job(items: dict) -> dict[str, Any]:
    return items["job"][0]["data"]


def _invoices(items: dict) -> list[dict[str, Any]]:
    return [item["data"] for item in items.get("invoice", [])]


def _refunded(payment: dict) -> int:
    return sum(r["amount_cents"] for r in payment.get("refunds") or [])


def _lost(payment: dict) -> int:
    return payment.get("dispute_lost_cents", 0)


def _kept(payment: dict) -> int:
    """What the business kept of a payment, from its parts: nothing unless it settled."""
    if payment["status"] not in invoice_rules.SETTLED:
        return 0
    return payment["amount_cents"] - _refunded(payment) - _lost(payment)


def _net_paid(invoice: dict) -> int:
    return (
        invoice["amount_paid_cents"]
        - invoice["refunded_cents"]
        - invoice.get("dispute_lost_cents", 0)
    )


def _line_terms(line: dict) -> tuple:
    return (line["description"], line["quantity"], line["unit_price_cents"], line["taxable"])


def _when(value: str | None) -> datetime | None:
    return _at(value) if value else None


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
