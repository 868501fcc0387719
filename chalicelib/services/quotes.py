"""Quotes: write one, send it as a signed link, and take the customer's answer through it.

The customer's routes carry no bearer token: the link's token (HMAC, expiring, naming the
tenant, job and quote) is the only thing that opens a quote, and anything wrong with it is
a 404 that says nothing about what exists. A genuine link to a quote a newer one replaced is
a 409 `quote_superseded` (the customer has a newer link).

Every write here changes the job header under its version, so a send and an answer racing
on one job serialize: the loser re-reads and decides again on what the winner wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import quotes as rules
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.jobs import Job
from chalicelib.domain.quotes import Quote
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.services import customers, invoicing, jobs, messaging, pricebook, tenants
from chalicelib.services.common import check_version, retrying
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.quotes import quote_item

# A write that loses a race re-reads and decides again; three reads settle it.
RACE_ATTEMPTS = 3
T = TypeVar("T")


# --- the office -------------------------------------------------------------------------------


def create(caller: Caller, job_id: str, fields: dict[str, Any]) -> Quote:
    tenant = tenants.get_settings(caller)

    def attempt() -> Quote:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        _require_quotable(job, collection)
        options = [
            (o["name"], pricebook.line_items(caller.tenant_id, job.currency, o["line_items"]))
            for o in fields["options"]
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

    return _until_written(attempt)


def get(caller: Caller, job_id: str, quote_id: str) -> dict[str, Any]:
    """The quote with its customer link (once sent and while it is valid)."""
    quote = _require_quote(jobs.load(caller, job_id).children("quote", Quote), quote_id)
    return _with_link(caller.tenant_id, quote)


def send(caller: Caller, job_id: str, quote_id: str, if_match: int | None) -> dict[str, Any]:
    """Sent, the earlier unanswered quotes superseded, job `quoted`, QuoteSent: one
    transaction; then the customer gets the link.

    Sending a quote that is already `sent` texts the same link again (a customer who lost
    the text) without a second QuoteSent; an approved, declined or superseded quote cannot be
    sent. After an approval the quote is a revision: the approval stays the scope until the
    revision is approved.
    """

    def attempt() -> tuple[Job, Quote]:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        quotes = collection.children("quote", Quote)
        quote = _require_quote(quotes, quote_id)
        check_version(quote.version, if_match)
        _require_quotable(job, collection)
        sent = rules.send(quote, caller.user_id)
        replaced = rules.supersede_unanswered(quotes, quote, caller.user_id)
        if sent is None and not replaced:
            return job, quote  # sent before: text the same link again
        advanced = job_rules.advance(job, "quoted", caller.user_id, quote_id=quote.quote_id)
        job_rules.touch(job)
        tx = Transaction()
        for changed in [quote, *(old for old, _ in replaced)]:
            tx.put(quote_item(caller.tenant_id, changed), label="quote", entity=changed)
        jobs.save(tx, caller, job, sent, *(why for _, why in replaced), advanced).commit()
        return job, quote

    job, quote = _until_written(attempt)
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
    return f"{get_settings().public_base_url}/p/quotes/{token_for(tenant_id, quote)}"


def token_for(tenant_id: str, quote: Quote) -> str:
    claims = links.LinkClaims(
        kind="quote",
        tenant_id=tenant_id,
        job_id=quote.job_id,
        object_id=quote.quote_id,
        expires_at=quote.expires_at,
    )
    return links.sign(claims, get_settings().link_secrets)


def _with_link(tenant_id: str, quote: Quote) -> dict[str, Any]:
    live = quote.status not in ("draft", "superseded") and not quote.is_expired(clock.now())
    return {**quote.model_dump(), "link": link_for(tenant_id, quote) if live else None}


def _require_quote(quotes: list[Quote], quote_id: str) -> Quote:
    quote = next((q for q in quotes if q.quote_id == quote_id), None)
    if quote is None:
        raise NotFound("quote not found")
    return quote


def _require_open(job: Job) -> None:
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")


def _require_quotable(job: Job, collection: JobCollection) -> None:
    """Open, and not yet billed by a sent final invoice (that bill never changes)."""
    _require_open(job)
    rules.require_scope_can_change(collection.children("invoice", Invoice))


def _until_written(attempt: Callable[[], T]) -> T:
    """Someone else changed the quote or the job first: read again, decide again."""
    return retrying(attempt, RACE_ATTEMPTS, busy="the quote is being changed; try again")


# --- the customer, through the link ----------------------------------------------------------


@dataclass
class OpenedLink:
    caller: Caller  # the customer, acting inside the token's tenant
    job: Job
    quote: Quote
    quotes: list[Quote]  # every quote of the job, `quote` among them
    collection: JobCollection

    @property
    def is_superseded(self) -> bool:
        return self.quote.status == "superseded"


@dataclass
class Answer:
    """What a customer's answer changes: quotes (the answered one first) and the timeline."""

    quotes: list[Quote] = field(default_factory=list)
    events: list[TimelineEvent | None] = field(default_factory=list)


def open_link(token: str) -> OpenedLink:
    """Whatever is wrong (altered, expired, another kind, gone) looks the same: 404.

    A superseded quote opens (the page says what replaced it); its answers are refused."""
    now = clock.now()
    claims = links.verify(token, "quote", get_settings().link_secrets, now)
    if claims is None:
        raise NotFound("quote not found")
    customer = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    try:
        collection = jobs.load(customer, claims.job_id)
    except NotFound:
        raise NotFound("quote not found") from None
    quotes = collection.children("quote", Quote)
    quote = next((q for q in quotes if q.quote_id == claims.object_id), None)
    if quote is None or quote.sent_at is None or quote.is_expired(now):
        raise NotFound("quote not found")  # never sent: no customer has its link
    return OpenedLink(customer, collection.header(), quote, quotes, collection)


def public_view(token: str) -> dict[str, Any]:
    opened = open_link(token)
    if opened.is_superseded:
        raise Conflict(rules.SUPERSEDED_MESSAGE, code="quote_superseded")
    return _customer_view(opened)


def replacement(opened: OpenedLink) -> Quote | None:
    """The quote that replaced this one, following revisions to the newest, while the customer
    can open it (they have its link by text too)."""
    by_id = {q.quote_id: q for q in opened.quotes}
    newer = opened.quote
    while newer.superseded_by in by_id:
        newer = by_id.pop(newer.superseded_by)  # popped: a cycle in bad data cannot loop
    if newer is opened.quote or newer.status == "superseded" or newer.is_expired(clock.now()):
        return None
    return newer


def approve(token: str, option_id: str, signed_by: str, ip: str | None = None) -> dict[str, Any]:
    """Quote approved, the other options declined, the quote it revises superseded, job
    `approved`: one transaction.

    The job's version guards the write, so of two racing answers (or an answer and a send)
    one commits; the other re-reads and either finds its own choice (the same answer) or a
    different one (409). Once a sent final invoice billed the scope, no approval changes it.
    """

    def decide(opened: OpenedLink) -> Answer:
        approved = rules.approve(opened.quote, option_id, signed_by, CUSTOMER, ip)
        if approved is None:
            return Answer()
        rules.require_scope_can_change(opened.collection.children("invoice", Invoice))
        revised = rules.supersede_scope(opened.quotes, opened.quote, CUSTOMER)
        quote_id = opened.quote.quote_id
        advanced = job_rules.advance(opened.job, "approved", CUSTOMER, quote_id=quote_id)
        return Answer(
            quotes=[opened.quote, *(old for old, _ in revised)],
            events=[approved, *(why for _, why in revised), advanced],
        )

    return _answer(token, decide)


def decline(token: str, reason: str | None) -> dict[str, Any]:
    """The quote is declined; the job stays where it is (the office decides what next), and a
    declined revision leaves the approval it would have replaced in force."""

    def decide(opened: OpenedLink) -> Answer:
        declined = rules.decline(opened.quote, reason, CUSTOMER)
        return Answer([opened.quote], [declined]) if declined is not None else Answer()

    return _answer(token, decide)


def _answer(token: str, decide: Callable[[OpenedLink], Answer]) -> dict[str, Any]:
    def attempt() -> dict[str, Any]:
        opened = open_link(token)
        answer = decide(opened)
        if answer.events:  # else already decided this way: the same answer, nothing written
            _answer_transaction(opened, answer).commit()
        return _customer_view(opened)

    return _until_written(attempt)


def _answer_transaction(opened: OpenedLink, answer: Answer) -> Transaction:
    """The one write of an answer: the quotes it changed, the job header, the timeline."""
    tx = Transaction()
    for quote in answer.quotes:
        tx.put(quote_item(opened.caller.tenant_id, quote), label="quote", entity=quote)
    job_rules.touch(opened.job)
    repriced = invoicing.follow_scope(tx, opened.caller, opened.collection, opened.quotes)
    return jobs.save(tx, opened.caller, opened.job, *answer.events, repriced)


def _customer_view(opened: OpenedLink) -> dict[str, Any]:
    business = tenants.get_settings(opened.caller)
    return rules.customer_view(opened.quote, business.name, opened.job.title)
