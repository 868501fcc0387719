"""The customer's link to a visit (sent with reminders): see when and who, confirm, or ask to
reschedule.

Like quote and invoice links, the token (HMAC, expiring, naming tenant, job and visit) is the
only thing that opens it, and anything wrong with it is a 404. Confirming goes the same way as
replying "C" to a text (conversations.confirm_visit); a reschedule request is a timeline event
plus an inbound message the office sees with the customer's texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.messages import Message
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_window
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.visits import Visit
from chalicelib.services import conversations, customers, jobs, messaging, tenants
from chalicelib.store import jobs as job_store
from chalicelib.store import messages as message_store
from chalicelib.store import tenants as user_store
from chalicelib.store.db import Transaction

KIND = "visit"
# A customer can still answer for a visit that is booked and not yet under way.
ANSWERABLE = ("scheduled", "dispatched")
MAX_NOTE = 1000


def visit_link(tenant_id: str, job_id: str, visit_id: str, expires_at: datetime) -> str:
    """The URL of the visit page, e.g. for a reminder text (expire it after the visit)."""
    claims = links.LinkClaims(
        kind=KIND, tenant_id=tenant_id, job_id=job_id, object_id=visit_id, expires_at=expires_at
    )
    settings = get_settings()
    return f"{settings.public_base_url}/p/visits/{links.sign(claims, settings.link_secrets)}"


@dataclass
class OpenedVisit:
    caller: Caller  # the customer, inside the token's tenant
    tenant: Tenant
    job: Job
    visit: Visit
    technician_first_name: str | None
    confirmed_at: datetime | None  # since the visit last changed (booked, moved, ...)
    reschedule_requested_at: datetime | None

    @property
    def answerable(self) -> bool:
        return self.visit.status in ANSWERABLE and self.visit.start > clock.now()

    @property
    def window(self) -> str:
        v = self.visit
        return local_window(v.window_start, v.window_end, v.timezone)


def open_visit(token: str) -> OpenedVisit:
    """Whatever is wrong (altered, expired, another kind, gone) looks the same: 404."""
    claims = links.verify(token, KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        raise NotFound("visit not found")
    customer = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    try:
        collection = jobs.load(customer, claims.job_id)
        tenant = tenants.get_settings(customer)
    except NotFound:
        raise NotFound("visit not found") from None
    visit = collection.child("visit", claims.object_id, Visit)
    if visit is None:
        raise NotFound("visit not found")
    answers = [
        e
        for e in job_store.events_since(claims.tenant_id, claims.job_id, visit.updated_at)
        if e.data.get("visit_id") == visit.visit_id
    ]
    return OpenedVisit(
        caller=customer,
        tenant=tenant,
        job=collection.header(),
        visit=visit,
        technician_first_name=_technician_first_name(claims.tenant_id, visit),
        confirmed_at=_latest(answers, "VisitConfirmed"),
        reschedule_requested_at=_latest(answers, "RescheduleRequested"),
    )


def confirm(token: str) -> OpenedVisit:
    """The customer confirms; confirming the same booking again changes nothing."""
    opened = _answerable(token)
    if opened.confirmed_at is None:
        conversations.confirm_visit(
            opened.caller.tenant_id, opened.job.job_id, opened.visit.visit_id, via="page"
        )
    return open_visit(token)


def request_reschedule(token: str, note: str) -> OpenedVisit:
    """A `RescheduleRequested` event and the customer's note as an inbound message, together."""
    opened = _answerable(token)
    customer = customers.get(opened.caller, opened.job.customer_id)
    message = _inbound(opened, customer, note.strip()[:MAX_NOTE])
    requested = event(
        opened.job.job_id,
        "RescheduleRequested",
        CUSTOMER,
        visit_id=opened.visit.visit_id,
        message_id=message.message_id,
        note=message.body,
        via="page",
    )
    tenant_id = opened.caller.tenant_id
    received = messaging.message_event(message, CUSTOMER)
    tx = Transaction()
    tx.put(message_store.message_item(tenant_id, message), entity=message, label="message")
    for evt in (received, requested):
        tx.put(job_store.event_item(tenant_id, evt), label=evt.type)
    tx.commit()
    return open_visit(token)


def _answerable(token: str) -> OpenedVisit:
    opened = open_visit(token)
    if not opened.answerable:
        raise Conflict(f"the visit is {opened.visit.status}", code="illegal_transition")
    return opened


def _inbound(opened: OpenedVisit, customer: Customer, note: str) -> Message:
    return Message(
        message_id=new_id(),
        job_id=opened.job.job_id,
        customer_id=customer.customer_id,
        direction="inbound",
        channel="web",
        kind="inbound",
        to=opened.tenant.twilio_from_number or "",
        from_=customer.phone,
        body=f"Reschedule request for the visit on {opened.window}: {note}",
        status="received",
        created_at=clock.now(),
    )


def _technician_first_name(tenant_id: str, visit: Visit) -> str | None:
    if not visit.technician_ids:
        return None
    technician = user_store.get_user(tenant_id, visit.technician_ids[0])
    if technician is None or not technician.name.split():
        return None
    return technician.name.split()[0]


def _latest(events: list[TimelineEvent], type_: str) -> datetime | None:
    return max((e.at for e in events if e.type == type_), default=None)
