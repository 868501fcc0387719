"""Customers imported from a CSV file: checked as POST /customers checks one, matched by phone
to the tenant's customers (and to earlier rows), and the new ones written in transactions.

Running a file again creates nothing new: every customer it created now has its phone. A run
that stops part way (a lost transaction) leaves whole batches written; running it again adds
the rest.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.callers import Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import FieldlineError
from chalicelib.domain.imports import CustomerRow
from chalicelib.services import customers
from chalicelib.services.tenants import get_settings
from chalicelib.store import customers as store
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
