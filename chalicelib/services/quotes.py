"""Quotes: write one, send it as a signed link, and take the customer's answer through it.

The customer's routes carry no bearer token: the link's token (HMAC, expiring, naming the
tenant, job and quote) is the only thing that opens a quote, and anything wrong with it is
a 404 that says nothing about what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import quotes as rules
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem
from chalicelib.domain.quotes import Quote
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.services import customers, jobs, messaging, tenants
from chalicelib.services.common import check_version
from chalicelib.store import jobs as job_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.models import Item
from chalicelib.store.records import entity

# A customer's answer that loses a race re-reads and decides again; three reads settle it.
ANSWER_ATTEMPTS = 3


def quote_item(tenant_id: str, quote: Quote) -> Item:
    return job_store.child_item(tenant_id, quote.job_id, "QUOTE", quote.quote_id, quote)


def find(collection: JobCollection, quote_id: str) -> Quote | None:
    for item in collection.by_type.get("quote", []):
        if item.data.as_dict().get("quote_id") == quote_id:
            return entity(item, Quote)
    return None


# --- the office -------------------------------------------------------------------------------


def create(caller: Caller, job_id: str, fields: dict[str, Any]) -> Quote:
    collection = jobs.load(caller, job_id)
    job = collection.header()
    _require_open(job)
    tenant = tenants.get_settings(caller)
    options = [
        (option["name"], [LineItem(**line) for line in option["line_items"]])
        for option in fields["options"]
    ]
    quote, created = rules.new_quote(
        job.job_id,
        job.currency,
        tenant.tax_rate_bps,
        options,
        caller.user_id,
        deposit_percent=fields.get("deposit_percent"),
        expires_at=fields.get("expires_at"),
        message=fields.get("message"),
    )
    job_rules.touch(job)
    tx = Transaction()
    tx.put(quote_item(caller.tenant_id, quote), label="quote", entity=quote)
    jobs.save(tx, caller, job, created).commit()
    return quote


def get(caller: Caller, job_id: str, quote_id: str) -> dict[str, Any]:
    """The quote with its customer link (once sent and while it is valid)."""
    quote = _require_quote(jobs.load(caller, job_id), quote_id)
    return _with_link(caller.tenant_id, quote)


def send(caller: Caller, job_id: str, quote_id: str, if_match: int | None) -> dict[str, Any]:
    """Sent, job `quoted`, QuoteSent: one transaction; then the customer gets the link.

    Sending a quote that is already `sent` texts the same link again (a customer who lost
    the text) without a second QuoteSent; an approved or declined quote cannot be sent.
    """
    collection = jobs.load(caller, job_id)
    job = collection.header()
    quote = _require_quote(collection, quote_id)
    check_version(quote.version, if_match)
    _require_open(job)
    sent = rules.send(quote, caller.user_id)
    if sent is not None:
        advanced = job_rules.advance(job, "quoted", caller.user_id, quote_id=quote.quote_id)
        job_rules.touch(job)
        tx = Transaction()
        tx.put(quote_item(caller.tenant_id, quote), label="quote", entity=quote)
        jobs.save(tx, caller, job, sent, advanced).commit()
    shown = _with_link(caller.tenant_id, quote)
    tenant = tenants.get_settings(caller)
    customer = customers.get(caller, job.customer_id)
    values = {"job_title": job.title, "link": shown["link"]}
    subject = f"Your quote from {tenant.name}"
    messaging.notify_customer(
        tenant, customer, job.job_id, "quote_link", values, caller.user_id, subject
    )
    return shown


def link_for(tenant_id: str, quote: Quote) -> str:
    claims = links.LinkClaims(
        kind="quote",
        tenant_id=tenant_id,
        job_id=quote.job_id,
        object_id=quote.quote_id,
        expires_at=quote.expires_at,
    )
    settings = get_settings()
    return f"{settings.public_base_url}/p/quotes/{links.sign(claims, settings.link_secret)}"


def _with_link(tenant_id: str, quote: Quote) -> dict[str, Any]:
    live = quote.status != "draft" and not quote.is_expired(clock.now())
    return {**quote.model_dump(), "link": link_for(tenant_id, quote) if live else None}


def _require_quote(collection: JobCollection, quote_id: str) -> Quote:
    quote = find(collection, quote_id)
    if quote is None:
        raise NotFound("quote not found")
    return quote


def _require_open(job: Job) -> None:
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")


# --- the customer, through the link ----------------------------------------------------------


@dataclass
class OpenedLink:
    caller: Caller  # the customer, acting inside the token's tenant
    job: Job
    quote: Quote


def open_link(token: str) -> OpenedLink:
    """Whatever is wrong (altered, expired, another kind, gone) looks the same: 404."""
    now = clock.now()
    claims = links.verify(token, "quote", get_settings().link_secret, now)
    if claims is None:
        raise NotFound("quote not found")
    customer = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    try:
        collection = jobs.load(customer, claims.job_id)
    except NotFound:
        raise NotFound("quote not found") from None
    quote = find(collection, claims.object_id)
    if quote is None or quote.status == "draft" or quote.is_expired(now):
        raise NotFound("quote not found")
    return OpenedLink(customer, collection.header(), quote)


def public_view(token: str) -> dict[str, Any]:
    return _customer_view(open_link(token))


def approve(token: str, option_id: str, signed_by: str, ip: str | None = None) -> dict[str, Any]:
    """Quote approved, the other options declined, job `approved`: one transaction.

    The quote's version guards the write, so of two racing approvals one commits; the other
    re-reads and either finds its own choice (the same answer) or a different one (409).
    """

    def decide(opened: OpenedLink) -> list[TimelineEvent | None]:
        approved = rules.approve(opened.quote, option_id, signed_by, CUSTOMER, ip)
        if approved is None:
            return []
        quote_id = opened.quote.quote_id
        return [approved, job_rules.advance(opened.job, "approved", CUSTOMER, quote_id=quote_id)]

    return _answer(token, decide)


def decline(token: str, reason: str | None) -> dict[str, Any]:
    """The quote is declined; the job stays where it is (the office decides what next)."""

    def decide(opened: OpenedLink) -> list[TimelineEvent | None]:
        declined = rules.decline(opened.quote, reason, CUSTOMER)
        return [declined] if declined is not None else []

    return _answer(token, decide)


def _answer(token: str, decide) -> dict[str, Any]:
    for _ in range(ANSWER_ATTEMPTS):
        opened = open_link(token)
        events = decide(opened)
        if not events:  # already decided this way: the same answer, nothing written
            return _customer_view(opened)
        job_rules.touch(opened.job)
        tx = Transaction()
        tx.put(
            quote_item(opened.caller.tenant_id, opened.quote), label="quote", entity=opened.quote
        )
        try:
            jobs.save(tx, opened.caller, opened.job, *events).commit()
        except ConditionFailed:
            continue  # someone else changed the quote or the job first: read again, decide again
        return _customer_view(opened)
    raise Conflict("the quote is being changed; try again", code="conflict")


def _customer_view(opened: OpenedLink) -> dict[str, Any]:
    business = tenants.get_settings(opened.caller)
    return rules.customer_view(opened.quote, business.name, opened.job.title)
