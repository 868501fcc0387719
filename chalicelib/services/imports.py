"""Customers imported from a CSV file: checked as POST /customers checks one, matched by phone
to the tenant's customers (and to earlier rows), and the new ones written in transactions.
Jobs history the same way: each past job under the customer with its phone.

Running a file again creates nothing new: every customer it created now has its phone. A run
that stops part way (a lost transaction) leaves whole batches written; running it again adds
the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain import clock, imports
from chalicelib.domain.callers import Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import FieldlineError
from chalicelib.domain.imports import CustomerRow, History, JobRow
from chalicelib.domain.phones import to_e164
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.visits import Tally
from chalicelib.services import customers, jobs
from chalicelib.services.tenants import get_settings
from chalicelib.store import customers as store
from chalicelib.store import jobs as job_store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import Transaction

# A customer is two writes (the customer, its phone entry); a transaction takes 100.
CUSTOMERS_PER_TRANSACTION = 50


def import_customers(caller: Caller, rows: list[CustomerRow], dry_run: bool) -> dict[str, Any]:
    """Rows already checked against the request model (their `errors` say what failed);
    a dry run writes nothing and says what a real run would do."""
    region = get_settings(caller).country
    known = store.customer_phones(caller.tenant_id)
    new: list[Customer] = []
    duplicates = 0
    for row in rows:
        if row.errors:
            continue
        try:
            customer = customers.new_customer(dict(row.fields), region)
        except FieldlineError as error:
            row.problem(_field_of(error), error.message)
            continue
        if customer.phone in known:
            duplicates += 1
            continue
        known.add(customer.phone)
        new.append(customer)
    if not dry_run:
        _write(caller, new)
    errors = [problem for row in rows for problem in row.errors]
    return {
        "dry_run": dry_run,
        "rows": len(rows),
        "valid": sum(1 for row in rows if not row.errors),
        "created": 0 if dry_run else len(new),
        "skipped_duplicates": duplicates,
        "errors": errors,
    }


def _write(caller: Caller, new: list[Customer]) -> None:
    for start in range(0, len(new), CUSTOMERS_PER_TRANSACTION):
        tx = Transaction()
        for customer in new[start : start + CUSTOMERS_PER_TRANSACTION]:
            customers.add_to(tx, caller, customer)
        tx.commit()


def _field_of(error: FieldlineError) -> str:
    """The field a refusal of new_customer names: the phone (E.164) or the time zone."""
    return "phone" if error.code == "invalid_phone" else "timezone"


# --- jobs history -----------------------------------------------------------------------------
# A job is at most six writes (header, tally, visit, JobImported event, and a new customer with
# its phone entry); a transaction takes 100.
JOBS_PER_TRANSACTION = 16
# Countries whose exports write 03/04/2025 for March 4.
MONTH_FIRST = ("US", "PH", "FM", "MH", "PW")


@dataclass
class PlannedJob:
    row: JobRow
    job_id: str
    customer_id: str
    said: History
    new_customer: Customer | None = None


def import_jobs(caller: Caller, rows: list[JobRow], dry_run: bool) -> dict[str, Any]:
    """Past jobs as history, each under the customer with its phone (made from the row's name
    and phone when there is none). Rows already checked against the request models; a dry run
    writes nothing and says what a real run would do. A job already imported (the same id, see
    domain.imports.history_id) is a skipped duplicate."""
    tenant = get_settings(caller)
    owners = store.customers_by_phone(caller.tenant_id)
    planned: dict[str, PlannedJob] = {}
    made: dict[str, Customer] = {}  # customers the rows add, by id
    duplicates = 0
    for row in rows:
        plan = _plan(row, tenant, owners)
        if plan is None:
            continue
        if plan.new_customer is not None:
            made[plan.customer_id] = plan.new_customer
        if plan.job_id in planned:
            duplicates += 1
            continue
        planned[plan.job_id] = plan
    existing = job_store.existing_jobs(caller.tenant_id, list(planned))
    fresh = [plan for job_id, plan in planned.items() if job_id not in existing]
    for plan in fresh:
        # A customer the rows add is written with the first new job that is theirs (so in its
        # batch); one whose jobs all exist already is not added.
        plan.new_customer = made.pop(plan.customer_id, None)
    if not dry_run:
        _write_jobs(caller, tenant, fresh)
    return {
        "dry_run": dry_run,
        "rows": len(rows),
        "valid": sum(1 for row in rows if not row.errors),
        "created": 0 if dry_run else len(fresh),
        "customers_created": 0 if dry_run else sum(1 for p in fresh if p.new_customer),
        "skipped_duplicates": duplicates + len(planned) - len(fresh),
        "errors": [problem for row in rows for problem in row.errors],
    }


def _plan(row: JobRow, tenant: Tenant, owners: dict[str, str]) -> PlannedJob | None:
    """The job a valid row makes, or None with its problems recorded. A customer the row
    creates goes into `owners` at once, so later rows of the same phone are theirs."""
    if row.errors:
        return None
    month_first = tenant.country in MONTH_FIRST
    said = imports.history(row, tenant.timezone, tenant.currency, month_first, clock.now())
    try:
        phone = to_e164(row.customer["phone"], tenant.country)
    except FieldlineError as error:
        row.problem("customer_phone", error.message)
        return None
    if said is None:
        return None
    new_customer = None
    if phone not in owners:
        if not row.customer["name"]:
            row.problem("customer_name", "no customer has this phone: a name is needed to add one")
            return None
        new_customer = customers.new_customer(dict(row.customer), tenant.country)
        owners[phone] = new_customer.customer_id
    cells = row.fields
    job_id = imports.history_id(
        cells["ref_column"], cells["ref"], phone, said.moment, tenant.timezone, cells["title"]
    )
    return PlannedJob(row, job_id, owners[phone], said, new_customer)


def _write_jobs(caller: Caller, tenant: Tenant, fresh: list[PlannedJob]) -> None:
    """Batch by batch, each one transaction; every job is put only if its id is absent (its
    first version), so an import racing this one fails a batch rather than doubling a job."""
    now = clock.now()
    for start in range(0, len(fresh), JOBS_PER_TRANSACTION):
        tx = Transaction()
        for plan in fresh[start : start + JOBS_PER_TRANSACTION]:
            if plan.new_customer is not None:
                customers.add_to(tx, caller, plan.new_customer)
            job, visit, imported = imports.imported_job(
                plan.job_id,
                plan.customer_id,
                plan.said,
                plan.row,
                tenant.currency,
                tenant.timezone,
                caller.user_id,
                now,
            )
            tally = Tally.of([visit] if visit else [])
            tx.put(job_store.tally_item(caller.tenant_id, job.job_id, tally), entity=tally)
            if visit is not None:
                item = visit_store.visit_item(caller.tenant_id, visit, tenant.timezone)
                tx.put(item, label="visit", entity=visit)
            jobs.save(tx, caller, job, imported)
        tx.commit()
