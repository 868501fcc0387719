"""Every key pattern of the one table, and the table's schema (infra/ and tests build from it).

Every key of tenant data begins with `T#<tenant>`, so no key built from a request can reach
another tenant's items.
"""

from __future__ import annotations

from typing import NamedTuple

PK, SK = "PK", "SK"
GSI1, GSI2 = "GSI1", "GSI2"
TTL_ATTRIBUTE = "ttl"

TABLE_SCHEMA = {
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"}
        for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")
    ],
    "KeySchema": [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": index,
            "KeySchema": [
                {"AttributeName": f"{index}PK", "KeyType": "HASH"},
                {"AttributeName": f"{index}SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for index in (GSI1, GSI2)
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}


class Key(NamedTuple):
    pk: str
    sk: str


def _t(tenant_id: str) -> str:
    return f"T#{tenant_id}"


# --- primary keys -----------------------------------------------------------------------------


def tenant(tenant_id: str) -> Key:
    return Key(_t(tenant_id), "TENANT")


def user(tenant_id: str, user_id: str) -> Key:
    return Key(_t(tenant_id), f"USER#{user_id}")


def customer(tenant_id: str, customer_id: str) -> Key:
    return Key(f"{_t(tenant_id)}#CUST#{customer_id}", "CUST")


def customer_phone_entry(tenant_id: str, customer_id: str) -> Key:
    """A second item per customer so a phone prefix is searchable beside the name."""
    return Key(f"{_t(tenant_id)}#CUST#{customer_id}", "CUST#PHONE")


def pricebook_item(tenant_id: str, item_id: str) -> Key:
    return Key(f"{_t(tenant_id)}#ITEM#{item_id}", "ITEM")


def pricebook_category_entry(tenant_id: str, item_id: str) -> Key:
    """A second item per price-book item so a category's items are listed by name (and by
    kind within it) from an index of their own, without filtering the whole book."""
    return Key(f"{_t(tenant_id)}#ITEM#{item_id}", "ITEM#CATEGORY")


def job_partition(tenant_id: str, job_id: str) -> str:
    return f"{_t(tenant_id)}#JOB#{job_id}"


def job(tenant_id: str, job_id: str) -> Key:
    return Key(job_partition(tenant_id, job_id), "JOB")


def job_child(tenant_id: str, job_id: str, kind: str, child_id: str) -> Key:
    """Quotes, visits, invoices, payments, notes and photos live in the job's collection."""
    return Key(job_partition(tenant_id, job_id), f"{kind}#{child_id}")


def timeline_event(tenant_id: str, job_id: str, at_iso: str, event_id: str) -> Key:
    return Key(job_partition(tenant_id, job_id), f"EVT#{at_iso}#{event_id}")


TIMELINE_PREFIX = "EVT#"

# Each kind of item in a job's collection under its own sort-key prefix: an operation reads the
# header (GetItem) and only the kinds it needs (a Query on one prefix each), never the whole job.
CHILD_PREFIXES = {
    "quote": "QUOTE#",
    "visit": "VISIT#",
    "invoice": "INV#",
    "payment": "PAY#",
    "note": "NOTE#",
    "photo": "PHOTO#",
    "event": TIMELINE_PREFIX,
    "message": "MSG#",
}


def series(tenant_id: str, job_id: str, series_id: str) -> Key:
    """A recurring visit's rule and how far its visits are written (its visits are VISIT#)."""
    return Key(job_partition(tenant_id, job_id), f"SERIES#{series_id}")


# Every series with visits still to write, across tenants, by how far they are written: the
# nightly schedule reads those whose horizon is near (GSI1).
SERIES_TO_EXTEND = "SERIES#TOEXTEND"


def series_extend_sort(written_until_iso: str, tenant_id: str = "", series_id: str = "") -> str:
    return f"{written_until_iso}#{tenant_id}#{series_id}" if series_id else written_until_iso


def service_plan(tenant_id: str, plan_id: str) -> Key:
    """A service plan (the offer); a tenant's plans share one partition, listed by a Query."""
    return Key(f"{_t(tenant_id)}#PLANS", f"{SERVICE_PLAN_PREFIX}{plan_id}")


SERVICE_PLAN_PREFIX = "PLAN#"


def plan_enrolment(tenant_id: str, customer_id: str, enrolment_id: str) -> Key:
    """A customer's enrolment in a plan, in the customer's partition (listed by its prefix)."""
    return Key(f"{_t(tenant_id)}#CUST#{customer_id}", f"{ENROLMENT_PREFIX}{enrolment_id}")


ENROLMENT_PREFIX = "ENROL#"
# Enrolments with something to do on a date (bill, retry, announce a renewal), across tenants:
# the daily billing run reads the ones due by one Query.
PLANS_DUE = "PLANS#DUE"


def plan_due_sort(
    due_at_iso: str, tenant_id: str = "", customer_id: str = "", enrolment_id: str = ""
) -> str:
    if not enrolment_id:
        return due_at_iso
    return f"{due_at_iso}#{tenant_id}#{customer_id}#{enrolment_id}"


def job_tally(tenant_id: str, job_id: str) -> Key:
    """The job's visit counts (open, live, per technician): kept so no write reads every visit."""
    return Key(job_partition(tenant_id, job_id), "TALLY")


def job_message(tenant_id: str, job_id: str, at_iso: str, message_id: str) -> Key:
    return Key(job_partition(tenant_id, job_id), f"MSG#{at_iso}#{message_id}")


def customer_message(tenant_id: str, customer_id: str, message_id: str) -> Key:
    """A text with no job (a reply to STOP, an inbound text with nothing open)."""
    return Key(f"{_t(tenant_id)}#CUST#{customer_id}", f"MSG#{message_id}")


def saved_method(tenant_id: str, customer_id: str, method_id: str) -> Key:
    """A payment method the customer saved (card on file), in the customer's collection."""
    return Key(_customer_partition(tenant_id, customer_id), f"{SAVED_METHOD_PREFIX}{method_id}")


SAVED_METHOD_PREFIX = "PM#"


def default_method(tenant_id: str, customer_id: str) -> Key:
    """Which saved method is the default: one item, so racing saves cannot both be first."""
    return Key(_customer_partition(tenant_id, customer_id), "PMDEFAULT")


def stripe_customer(tenant_id: str, customer_id: str, account: str | None) -> Key:
    """The Stripe Customer made for our customer on one Stripe account (made once)."""
    return Key(_customer_partition(tenant_id, customer_id), f"STRIPECUST#{account or PLATFORM}")


def customer_event(tenant_id: str, customer_id: str, at_iso: str, event_id: str) -> Key:
    """A timeline event of a customer's own (a saved card), not of one job."""
    return Key(_customer_partition(tenant_id, customer_id), f"{TIMELINE_PREFIX}{at_iso}#{event_id}")


def _customer_partition(tenant_id: str, customer_id: str) -> str:
    return f"{_t(tenant_id)}#CUST#{customer_id}"


def tech_day(tenant_id: str, user_id: str, day: str) -> Key:
    return Key(f"{_t(tenant_id)}#TECH#{user_id}", f"DAY#{day}")


def dispatch_proposal(tenant_id: str, proposal_id: str) -> Key:
    """A dispatch optimisation's proposal, kept until applied or expired (ttl)."""
    return Key(f"{_t(tenant_id)}#PROPOSAL#{proposal_id}", "PROPOSAL")


def photo(tenant_id: str, job_id: str, photo_id: str) -> Key:
    """A job's photo (pending until its upload is confirmed); checklists live on the visit."""
    return job_child(tenant_id, job_id, "PHOTO", photo_id)


def photo_object(tenant_id: str, job_id: str, photo_id: str, extension: str) -> str:
    """The photo's S3 object key: tenant first, like every key of tenant data."""
    return f"tenants/{tenant_id}/jobs/{job_id}/photos/{photo_id}.{extension}"


def counter(tenant_id: str, name: str) -> Key:
    return Key(_t(tenant_id), f"COUNTER#{name}")


def returned_number(tenant_id: str, name: str, number: int) -> Key:
    """A number a send took and could not use; the next send takes it (store/counters.py)."""
    return Key(f"{_t(tenant_id)}#RETURNED#{name}", f"N#{number:012d}")


def webhook_dedupe(provider: str, event_id: str) -> Key:
    return Key(f"HOOK#{provider}#{event_id}", "HOOK")


def rate_window(tenant_id: str, subject: str, window: int) -> Key:
    """Requests one subject (`IP#…`, `PHONE#+1…`) made in one window (epoch seconds / length):
    an online booking's rate limit, expired by ttl."""
    return Key(f"{_t(tenant_id)}#RATE#{subject}", f"W#{window}")


def idempotency_partition(tenant_id: str) -> str:
    return f"{_t(tenant_id)}#IDEMPOTENCY"


# --- what belongs to no tenant, or to one tenant only -----------------------------------------


def ownership(kind: str, resource: str) -> Key:
    """Which tenant owns a resource only one may hold (`STRIPE` account, `SMS` number).

    Outside every tenant's prefix on purpose: the item is the claim two tenants compete for.
    """
    return Key(f"OWNER#{kind}#{resource}", "OWNER")


def sms_opt_out(sender: str, phone: str) -> Key:
    """That a phone opted out of texts from one sender number (as the carrier sees it): the
    shared default sender texts for many tenants, so this is not any one tenant's data."""
    return Key(f"OPTOUT#{sender}#{phone}", "OPTOUT")


# --- time-driven work (ARCHITECTURE.md: events) ---------------------------------------------


def consumed_event(tenant_id: str, consumer: str, event_id: str) -> Key:
    """That a consumer of the event bus has handled a timeline event (expires by ttl)."""
    return Key(f"{_t(tenant_id)}#CONSUMED#{event_id}", f"CONSUMER#{consumer}")


def workflow(tenant_id: str, kind: str, object_id: str) -> Key:
    """The one live workflow of an object (a visit's reminder, an invoice's dunning): which
    execution is current, and what it has already done."""
    return Key(f"{_t(tenant_id)}#WORKFLOW#{kind}#{object_id}", "WORKFLOW")


# --- outbound webhooks: subscriptions, their deliveries, one ordered lane per job ------------


def subscriptions_partition(tenant_id: str) -> str:
    """A tenant's few webhook subscriptions, in one partition (listed by one Query)."""
    return f"{_t(tenant_id)}#SUBSCRIPTIONS"


def subscription(tenant_id: str, subscription_id: str) -> Key:
    return Key(subscriptions_partition(tenant_id), f"SUB#{subscription_id}")


def delivery(tenant_id: str, delivery_id: str) -> Key:
    """One event's delivery to one subscription (or its replay): status, attempts (ttl)."""
    return Key(f"{_t(tenant_id)}#DELIVERY#{delivery_id}", "DELIVERY")


def subscription_deliveries_index(tenant_id: str, subscription_id: str) -> str:
    return f"{_t(tenant_id)}#SUB#{subscription_id}#DELIVERIES"


def delivery_sort(created_iso: str, delivery_id: str) -> str:
    return f"{created_iso}#{delivery_id}"


def delivery_lane(tenant_id: str, subscription_id: str, job_id: str) -> Key:
    """How far one subscription has been sent one job's timeline: its events go out in order."""
    return Key(f"{_t(tenant_id)}#LANE#{subscription_id}#{job_id}", "LANE")


PLATFORM = "PLATFORM"  # what belongs to no tenant: the platform's own Stripe account


def reconciliation_cursor(account: str | None) -> Key:
    """How far reconciliation has read one Stripe account's balance history."""
    return Key(f"RECON#{account or PLATFORM}", "CURSOR")


def reconciliation_day(tenant_id: str | None, day: str) -> str:
    """A day's reconciliation report: one item per balance transaction and per payout."""
    owner = _t(tenant_id) if tenant_id else PLATFORM
    return f"{owner}#RECON#{day}"


def reconciliation_entry(tenant_id: str | None, day: str, kind: str, stripe_id: str) -> Key:
    return Key(reconciliation_day(tenant_id, day), f"{kind}#{stripe_id}")


# --- index keys (GSI1 / GSI2) ----------------------------------------------------------------


def users_index(tenant_id: str) -> str:
    return f"{_t(tenant_id)}#USERS"


def users_sort(role: str, name: str, user_id: str) -> str:
    return f"{role}#{name.lower()}#{user_id}"


def customers_index(tenant_id: str) -> str:
    return f"{_t(tenant_id)}#CUSTS"


def customer_name_sort(name: str, customer_id: str = "") -> str:
    return f"NAME#{name.lower()}#{customer_id}" if customer_id else f"NAME#{name.lower()}"


def customer_phone_sort(phone_prefix: str, customer_id: str = "") -> str:
    return f"PHONE#{phone_prefix}#{customer_id}" if customer_id else f"PHONE#{phone_prefix}"


def phone_lookup(tenant_id: str, phone: str) -> str:
    return f"{_t(tenant_id)}#PHONE#{phone}"


def pricebook_index(tenant_id: str, kind: str | None = None, category: str | None = None) -> str:
    """The price book by name: all of it (GSI1 of items), one kind (GSI2 of items), one
    category (GSI1 of category entries), or one kind in one category (GSI2 of those)."""
    index = f"{_t(tenant_id)}#PRICEBOOK"
    if kind:
        index += f"#KIND#{kind}"
    if category is not None:
        index += f"#CAT#{category}"
    return index


def pricebook_name_sort(archived: bool, name: str = "", item_id: str = "") -> str:
    """Active items before archived ones, each by lower-cased name: a name prefix is a range."""
    state = "ARCHIVED" if archived else "ACTIVE"
    return f"{state}#{name}#{item_id}" if item_id else f"{state}#{name}"


def jobs_index(tenant_id: str) -> str:
    return f"{_t(tenant_id)}#JOBS"


def jobs_by_stage_sort(stage: str, updated_iso: str = "", job_id: str = "") -> str:
    """One index answers 'all jobs' and 'jobs in a stage': the stage leads the sort key."""
    return f"STAGE#{stage}#{updated_iso}#{job_id}" if job_id else f"STAGE#{stage}#"


def customer_jobs_index(tenant_id: str, customer_id: str) -> str:
    return f"{_t(tenant_id)}#CUST#{customer_id}"


def customer_jobs_sort(created_iso: str = "", job_id: str = "") -> str:
    return f"JOB#{created_iso}#{job_id}" if job_id else "JOB#"


def tech_day_index(tenant_id: str, user_id: str, day: str) -> str:
    return f"{_t(tenant_id)}#TECH#{user_id}#DAY#{day}"


def job_visits_index(tenant_id: str, job_id: str) -> str:
    """A job's visits by start time (GSI2): its next visits, and its visits page by page."""
    return f"{job_partition(tenant_id, job_id)}#VISITS"


def unassigned_index(tenant_id: str, day: str) -> str:
    return f"{_t(tenant_id)}#UNASSIGNED#{day}"


def visit_day_sort(start_iso: str, visit_id: str) -> str:
    """A day's visits (a technician's or the unassigned ones) in start order."""
    return f"{start_iso}#{visit_id}"


def invoices_by_status_index(tenant_id: str, status: str) -> str:
    return f"{_t(tenant_id)}#INVSTATUS#{status}"


def invoice_due_sort(due_iso: str | None = None, invoice_id: str = "") -> str:
    """Invoices of one status by due date; a draft (no due date yet) sorts after all others."""
    return f"{due_iso or NO_DUE_DATE}#{invoice_id}" if invoice_id else (due_iso or "")


NO_DUE_DATE = "9999-12-31"


def invoice_number_index(tenant_id: str, number: str) -> str:
    return f"{_t(tenant_id)}#INVNO#{number}"


INVOICE_NUMBER_SORT = "INV"


def tenant_by_sms_number(number: str) -> str:
    """Inbound texts name only the number they were sent to: it leads to the tenant."""
    return f"SMSNUMBER#{number}"


def messages_by_status_index(tenant_id: str, status: str) -> str:
    return f"{_t(tenant_id)}#MSGSTATUS#{status}"


def message_status_sort(created_iso: str, message_id: str) -> str:
    """Messages of one status in the order they were made (read newest first)."""
    return f"{created_iso}#{message_id}"


def stripe_intent_index(intent_id: str) -> str:
    return f"STRIPE#{intent_id}"


STRIPE_INTENT_SORT = "PAY"


def twilio_message_index(sid: str) -> str:
    return f"TWILIO#{sid}"


TWILIO_MESSAGE_SORT = "MSG"


def tenant_owns(tenant_id: str, key_value: str) -> bool:
    return key_value == _t(tenant_id) or key_value.startswith(_t(tenant_id) + "#")


# --- the team and its time ------------------------------------------------------------------


def invitation(tenant_id: str, invitation_id: str) -> Key:
    """An invitation to join the business (accepted once; its link expires)."""
    return Key(f"{_t(tenant_id)}#INVITE#{invitation_id}", "INVITE")


def time_entry(tenant_id: str, entry_id: str) -> Key:
    """A technician's time entry: a clocked shift, travel or on-site time of a visit."""
    return Key(f"{_t(tenant_id)}#TIME#{entry_id}", "TIME")


def open_clock(tenant_id: str, user_id: str) -> Key:
    """The technician's open shift, if any: one item, so two clock-ins cannot both succeed."""
    return Key(f"{_t(tenant_id)}#TECH#{user_id}", "CLOCK")


def tenant_time_index(tenant_id: str) -> str:
    """Every time entry of the tenant (GSI2), by start: a week's timesheets or a period's
    job costing is one Query, whatever the number of technicians."""
    return f"{_t(tenant_id)}#TIME"


def time_sort(start_iso: str, entry_id: str = "") -> str:
    return f"{start_iso}#{entry_id}" if entry_id else start_iso


def travel_leg(tenant_id: str, origin: str, destination: str) -> Key:
    """A road travel time from one place to another (cached, ttl); places as rounded
    `lat,lng` (services.travel_matrix.place_key)."""
    return Key(f"{_t(tenant_id)}#LEG#{origin}", f"TO#{destination}")
