"""The job's money and lifecycle as one model, tried the way a bookkeeper would: at random.

A Hypothesis state machine drives one job of a fresh business through the real app (Chalice's
test client, moto, localstripe) with random sequences of what happens to a job: quotes written,
sent, revised and approved through the customer's link; deposit, progress and final invoices
created, sent and voided; cash and card payments (the customer's pay page left open while the
office takes cash, Stripe's webhook late or delivered twice); refunds with an Idempotency-Key,
sometimes retried; disputes opened and closed, won or lost; visits booked, worked, cancelled;
the job cancelled. After every step it reads the job's partition and its technicians' days and
checks the ledger's rules (tests/invariants.py, `ledger_problems`): money kept never exceeds what
is billed, the scope is billed once, the stage follows the money, a closed job holds no visit
and no draft, no technician's day holds a cancelled visit, invoice numbers have no gaps, every
money movement is told once; and that what Stripe refunded is what we recorded. Where the rules
say how a step must end (a superseded quote's link, more cash than is owed, a refund within
what was kept, a double booking), it ended that way; any other refusal is fine if it is a 4xx
with an error body, and a 500 never is.

The normal run (`make test`) is derandomized: the same 200 sequences of 15 steps every time
(4 to 6 minutes on two shared cores). A longer, random run explores new ones; Hypothesis prints the
failing sequence, shrunk:

    FIELDLINE_MODEL_EXAMPLES=2000 FIELDLINE_MODEL_STEPS=30 .venv/bin/python -m pytest \\
        tests/integration/test_job_ledger_stateful.py -q -x -p no:cacheprovider
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib.domain.visits import HOLDS_TIME
from tests.conftest import TABLE
from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api, new_tenant
from tests.invariants import TenantData, ledger_problems, local_reader

EXAMPLES = int(os.environ.get("FIELDLINE_MODEL_EXAMPLES", "200"))
STEPS = int(os.environ.get("FIELDLINE_MODEL_STEPS", "15"))
LONG_RUN = "FIELDLINE_MODEL_EXAMPLES" in os.environ

# Visits go on one Monday in Chicago (CDT, UTC-5), inside the technicians' default shift;
# 08:30 overlaps 08:00, the others are two hours apart.
DAY = "2030-06-03"
SLOTS = ("08:00", "08:30", "10:00", "12:00", "14:00")
VISIT_MINUTES = 60
TRAVEL_BUFFER = timedelta(minutes=15)  # the tenant keeps this between two visits
NEXT_STATUS = {"scheduled": "en_route", "en_route": "on_site", "on_site": "completed"}
COLLECTABLE = ("sent", "partially_paid")
REFUNDABLE = ("succeeded", "partially_refunded")
CLOSED = ("lost", "cancelled")
# Enough of each for any bookkeeping story; more would crowd out the other steps.
MAX_QUOTES, MAX_PROGRESS, MAX_VISITS = 4, 2, 3

# Mostly a tradesman's prices; now and then any amount (below Stripe's minimum charge too).
prices = st.sampled_from([9500, 4500, 89900, 12500, 2000, 150]) | st.integers(1, 150_000)
line_items = st.lists(
    st.fixed_dictionaries(
        {
            "description": st.sampled_from(["Labour", "Water heater", "Valve", "Permit"]),
            "quantity": st.integers(1, 3),
            "unit_price_cents": prices,
            "taxable": st.booleans(),
        }
    ),
    min_size=1,
    max_size=3,
)
pick = st.integers(0, 7)  # which of the matching objects, modulo how many there are
share = st.sampled_from(["all", "part", "more"])


class JobLedger(RuleBasedStateMachine):
    """One job of a fresh business, and what a bookkeeper would try on it."""

    def __init__(self, client, reader):
        super().__init__()
        self.client, self.reader = client, reader
        self.public = Api(client, "")
        self.api: Api | None = None
        self.data: TenantData | None = None
        self.steps = 0
        # What only the customer and Stripe know: links, open pay pages, card charges.
        self.quotes: dict[str, dict[str, Any]] = {}  # id → options, token, sent order, approval
        self.sent_count = 0
        self.pages: dict[str, str] = {}  # intent id → invoice id, opened and not yet paid
        self.charges: dict[str, str] = {}  # intent id → charge id, paid at Stripe
        self.late: list[dict] = []  # payment_intent.succeeded events not yet delivered
        self.disputes: dict[str, dict[str, Any]] = {}  # intent id → the open dispute

    # --- the business, its technicians and the job --------------------------------------------

    # Most sequences never cancel the job (the first choice is the one Hypothesis favours).
    @initialize(
        tax_rate_bps=st.sampled_from([0, 825]),
        cancel_after=st.sampled_from([None, STEPS * 3 // 4, STEPS // 2]),
    )
    def open_business(self, tax_rate_bps: int, cancel_after: int | None):
        self.api = new_tenant(self.client)
        self.cancel_after = cancel_after
        if tax_rate_bps:
            self.expect(self.api.patch("/settings", {"tax_rate_bps": tax_rate_bps}), 200)
        self.technician_ids = []
        for name, phone in (("Sam Rivera", "312-555-0111"), ("Gail Ortiz", "312-555-0112")):
            created = self.api.post("/technicians", {"name": name, "phone": phone})
            self.expect(created, 201)
            self.technician_ids.append(created.data["id"])
        self.job_id = stripe.new_job(self.api)["id"]

    # --- quotes --------------------------------------------------------------------------------

    @precondition(lambda self: self.job_is_open and len(self.quotes) < MAX_QUOTES)
    @rule(
        options=st.lists(line_items, min_size=1, max_size=3),
        deposit_percent=st.sampled_from([None, 0, 10, 25, 50]),
        then=st.sampled_from(["send", "approve", "keep"]),
    )
    def write_quote(self, options, deposit_percent, then):
        """A quote (a revision, once one was sent), kept as a draft, sent, or sent and approved
        at once by the customer (the first option)."""
        body: dict[str, Any] = {
            "options": [
                {"name": name, "line_items": lines}
                for name, lines in zip(("Good", "Better", "Best"), options, strict=False)
            ]
        }
        if deposit_percent is not None:
            body["deposit_percent"] = deposit_percent
        created = self.api.post(f"/jobs/{self.job_id}/quotes", body)
        # Once the final invoice is out, more work is billed on a new invoice, not quoted.
        self.expect(created, 201 if self.job_is_open and not self.final_issued else None)
        if created.status_code != 201:
            return
        quote_id = created.data["id"]
        options_ids = [o["id"] for o in created.data["options"]]
        self.quotes[quote_id] = {"options": options_ids, "token": None, "sent": None}
        if then != "keep":
            self.send_quote_now(quote_id)
        if then == "approve" and self.quotes[quote_id]["token"]:
            self.approve(quote_id, options_ids[0])

    @precondition(lambda self: self.quotes_in("draft"))
    @rule(which=pick)
    def send_quote(self, which):
        self.send_quote_now(self.chosen(self.quotes_in("draft"), which)["quote_id"])

    def send_quote_now(self, quote_id: str):
        sent = self.api.post(f"/jobs/{self.job_id}/quotes/{quote_id}/send")
        may_send = self.job_is_open and not self.final_issued
        self.expect(sent, 200 if may_send else None)
        if sent.status_code == 200:
            self.sent_count += 1
            self.quotes[quote_id].update(token=sent.data["link"].rsplit("/", 1)[1])
            self.quotes[quote_id]["sent"] = self.sent_count

    @precondition(lambda self: any(q["token"] for q in self.quotes.values()))
    @rule(which=pick, option=st.integers(0, 2))
    def customer_approves(self, which, option):
        linked = sorted((q["sent"], quote_id) for quote_id, q in self.quotes.items() if q["token"])
        quote_id = linked[which % len(linked)][1]
        options = self.quotes[quote_id]["options"]
        self.approve(quote_id, options[option % len(options)])

    def approve(self, quote_id: str, option_id: str):
        quote = self.quotes[quote_id]
        answer = self.public.post(
            f"/public/quotes/{quote['token']}/approve",
            {"option_id": option_id, "signed_by": "Dana Whitfield"},
        )
        if self.is_superseded(quote_id) and self.job_is_open:
            # A replaced quote's link never approves (issue 14, case 4).
            self.expect(answer, 409, "quote_superseded")
        elif self.is_latest(quote_id) and not quote.get("approved"):
            self.expect(answer, 200 if self.job_is_open and not self.final_issued else None)
        else:
            self.expect(answer)
        if answer.status_code == 200:
            quote.setdefault("approved", option_id)

    def is_latest(self, quote_id: str) -> bool:
        return self.quotes[quote_id]["sent"] == self.sent_count

    def is_superseded(self, quote_id: str) -> bool:
        """A later quote was sent while this one was unanswered, or a later one was approved."""
        mine = self.quotes[quote_id]
        later = [q for q in self.quotes.values() if (q["sent"] or 0) > mine["sent"]]
        if not mine.get("approved"):
            return bool(later)
        return any(q.get("approved") for q in later)

    # --- invoices ------------------------------------------------------------------------------

    @precondition(lambda self: self.job_is_open and self.deposit_unbilled())
    @rule(send=st.booleans())
    def bill_the_deposit(self, send):
        self.bill({"kind": "deposit"}, send)

    @precondition(
        lambda self: self.job_is_open and len(self.live_invoices("progress")) < MAX_PROGRESS
    )
    @rule(lines=line_items, send=st.booleans())
    def bill_progress(self, lines, send):
        self.bill({"kind": "progress", "line_items": lines}, send)

    @precondition(
        lambda self: (
            self.job_is_open and self.quotes_in("approved") and not self.live_invoices("final")
        )
    )
    @rule(added=st.none() | line_items, send=st.booleans())
    def write_the_final_invoice(self, added, send):
        """The scope, what was added on site, less the deposit and progress invoices."""
        body: dict[str, Any] = {"kind": "final"}
        if added is not None:
            body["line_items"] = added
        self.bill(body, send)

    @precondition(
        lambda self: (
            self.job_is_open and not self.quotes_in("approved") and not self.live_invoices("final")
        )
    )
    @rule(lines=line_items, send=st.booleans())
    def write_a_final_invoice_for_unquoted_work(self, lines, send):
        self.bill({"kind": "final", "line_items": lines}, send)

    def bill(self, body: dict[str, Any], send: bool):
        created = self.api.post(f"/jobs/{self.job_id}/invoices", body)
        self.expect(created)
        if send and created.status_code == 201:
            self.send_invoice_now(created.data["id"], body["kind"])

    @precondition(lambda self: self.invoices_in("draft"))
    @rule(which=pick)
    def send_invoice(self, which):
        draft = self.chosen(self.invoices_in("draft"), which)
        self.send_invoice_now(draft["invoice_id"], draft["kind"])

    def send_invoice_now(self, invoice_id: str, kind: str):
        waits = kind == "final" and self.an_advance_is_a_draft()
        sent = self.api.post(f"/jobs/{self.job_id}/invoices/{invoice_id}/send")
        if waits and self.job_is_open:
            self.expect(sent, 409, "advance_unsent")
        else:
            self.expect(sent, 200 if self.job_is_open else None)

    # Voiding what was paid on is refused (refund first): tried on invoices nothing was paid on.
    @precondition(lambda self: self.invoices_in("draft", "sent"))
    @rule(which=pick)
    def void_invoice(self, which):
        target = self.chosen(self.invoices_in("draft", "sent"), which)
        path = f"/jobs/{self.job_id}/invoices/{target['invoice_id']}/void"
        self.expect(self.api.post(path, {"reason": "written in error"}))

    # --- payments ------------------------------------------------------------------------------

    @precondition(lambda self: self.invoices_in(*COLLECTABLE))
    @rule(which=pick, how=share)
    def take_cash(self, which, how):
        bill = self.chosen(self.invoices_in(*COLLECTABLE), which)
        balance = bill["balance_cents"]
        amount = max(1, {"all": balance, "part": balance // 3, "more": balance + 1}[how])
        paid = self.api.post(
            f"/jobs/{self.job_id}/invoices/{bill['invoice_id']}/payments",
            {"method": "cash", "amount_cents": amount},
        )
        if amount > balance:
            self.expect(paid, "4xx")  # never more than is owed
        elif self.job_is_open and not self.card_in_flight(bill["invoice_id"]):
            self.expect(paid, 201)
        else:
            self.expect(paid)

    @precondition(lambda self: self.invoices_in(*COLLECTABLE) and not self.pages)
    @rule(which=pick)
    def customer_opens_pay_page(self, which):
        """...and leaves it open (the office may take cash meanwhile)."""
        self.open_pay_page(self.chosen(self.invoices_in(*COLLECTABLE), which))

    def open_pay_page(self, bill: dict[str, Any]) -> str | None:
        found = self.api.get(f"/jobs/{self.job_id}/invoices/{bill['invoice_id']}")
        self.expect(found, 200)
        page = self.public.get(f"/public/invoices/{found.data['link'].rsplit('/', 1)[1]}")
        self.expect(page, 200)
        if not (page.data["payment_intent_id"] and page.data["client_secret"]):
            return None
        self.pages[page.data["payment_intent_id"]] = bill["invoice_id"]
        return page.data["payment_intent_id"]

    @precondition(lambda self: self.pages or self.invoices_in(*COLLECTABLE))
    @rule(which=pick, on_open_page=st.booleans(), deliveries=st.sampled_from([1, 2, 0]))
    def customer_pays_by_card(self, which, on_open_page, deliveries):
        """The customer pays on a page opened earlier (Stripe refuses an intent we cancelled
        since, when the balance changed), or opens one now. Stripe's webhook arrives once,
        twice, or later."""
        from stripe import StripeError

        if on_open_page and self.pages or not self.invoices_in(*COLLECTABLE):
            intent_id = sorted(self.pages)[which % len(self.pages)]
        else:
            intent_id = self.open_pay_page(self.chosen(self.invoices_in(*COLLECTABLE), which))
            if intent_id is None:
                return
        del self.pages[intent_id]
        try:
            paid = stripe.pay_with_test_card(intent_id)
        except StripeError:
            return  # the intent was cancelled: the card is not charged
        assert paid["status"] == "succeeded", paid
        self.charges[intent_id] = paid["latest_charge"]["id"]
        succeeded = stripe.event("payment_intent.succeeded", paid)
        if deliveries == 0:
            self.late.append(succeeded)
        for _ in range(deliveries):
            self.expect(stripe.deliver(self.api, succeeded), 200)

    @precondition(lambda self: self.late)
    @rule()
    def stripe_delivers_late(self):
        while self.late:
            self.expect(stripe.deliver(self.api, self.late.pop(0)), 200)

    # --- refunds and disputes ------------------------------------------------------------------

    @precondition(lambda self: self.refundable())
    @rule(which=pick, how=share, retry=st.booleans())
    def refund(self, which, how, retry):
        payment = self.chosen(self.refundable(), which)
        room = _refundable(payment)
        amount = {"all": room, "part": max(1, room // 2), "more": room + 1}[how]
        path = f"/jobs/{self.job_id}/invoices/{payment['invoice_id']}/refunds"
        body = {"amount_cents": amount, "reason": "goodwill", "payment_id": payment["payment_id"]}
        key = {"Idempotency-Key": f"refund-{uuid.uuid4()}"}
        given = self.api.post(path, body, headers=key)
        if amount > room:
            self.expect(given, "4xx")
        elif payment.get("dispute_status") in (None, "won"):
            self.expect(given, 201)
            assert given.data["id"], f"a refund answered without its id: {given.data}"
        else:
            self.expect(given)
        if retry:  # the office's browser sends it again: the same answer, the same refund
            again = self.api.post(path, body, headers=key)
            assert (again.status_code, again.data) == (given.status_code, given.data), (
                f"a retried refund answered {again.status_code} {again.data}, "
                f"first {given.status_code} {given.data}"
            )

    @precondition(lambda self: self.card_payments(lambda p: p.get("refunds")))
    @rule(which=pick)
    def stripe_tells_of_the_refund(self, which):
        """Stripe's own charge.refunded, sent after every refund: it changes nothing more."""
        payment = self.chosen(self.card_payments(lambda p: p.get("refunds")), which)
        charge = stripe.charge(self.charges[payment["stripe_payment_intent_id"]])
        self.expect(stripe.deliver(self.api, stripe.event("charge.refunded", charge)), 200)

    @precondition(lambda self: self.card_payments(_can_be_disputed))
    @rule(which=pick, closed=st.sampled_from([None, "lost", "won"]))
    def customer_disputes(self, which, closed):
        """The customer's bank disputes a card payment; it is decided later, or at once."""
        payment = self.chosen(self.card_payments(_can_be_disputed), which)
        intent_id = payment["stripe_payment_intent_id"]
        dispute = {
            "id": f"dp_{uuid.uuid4().hex[:24]}",
            "object": "dispute",
            "amount": _kept(payment),
            "charge": self.charges[intent_id],
            "currency": payment["currency"].lower(),
            "payment_intent": intent_id,
            "reason": "product_not_received",
            "status": "needs_response",
            "is_charge_refundable": False,
            "metadata": {},
        }
        self.disputes[intent_id] = dispute
        opened = stripe.event("charge.dispute.created", dispute)
        self.expect(stripe.deliver(self.api, opened), 200)
        if closed:
            self.close_dispute(intent_id, closed, twice=False)

    @precondition(lambda self: self.disputes)
    @rule(which=pick, outcome=st.sampled_from(["lost", "won"]), twice=st.booleans())
    def dispute_closes(self, which, outcome, twice):
        self.close_dispute(sorted(self.disputes)[which % len(self.disputes)], outcome, twice)

    def close_dispute(self, intent_id: str, outcome: str, twice: bool):
        """Stripe's charge.dispute.closed, delivered once or twice: a lost dispute takes its
        amount off what the payment kept (at most what was left of it); a won one nothing."""
        dispute = {**self.disputes.pop(intent_id), "status": outcome}
        self.refresh()
        before = self.payment_by_intent(intent_id)
        closed = stripe.event("charge.dispute.closed", dispute)
        for _ in range(2 if twice else 1):
            self.expect(stripe.deliver(self.api, closed), 200)
        self.refresh()
        after = self.payment_by_intent(intent_id)
        lost = min(dispute["amount"], _kept(before)) if outcome == "lost" else 0
        assert after.get("dispute_lost_cents", 0) == lost, (
            f"a {outcome} dispute of {dispute['amount']} left payment {after['payment_id']} "
            f"with {after.get('dispute_lost_cents', 0)} lost"
        )

    # --- visits --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.of("visit")) < MAX_VISITS or not self.job_is_open)
    @rule(slot=st.sampled_from(SLOTS), technician=st.integers(0, 1))
    def book_visit(self, slot, technician):
        technician_id = self.technician_ids[technician]
        start = datetime.fromisoformat(f"{DAY}T{slot}:00-05:00")
        body = {
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(),
            "duration_minutes": VISIT_MINUTES,
            "technician_ids": [technician_id],
        }
        booked = self.api.post(f"/jobs/{self.job_id}/visits", body)
        if not self.job_is_open:
            self.expect(booked, "4xx")
        elif self.clashes(technician_id, start):
            self.expect(booked, 409, "double_booking")
        else:
            self.expect(booked, 201)  # follow-up visits too, on an invoiced or paid job

    @precondition(lambda self: self.visits_in(*NEXT_STATUS))
    @rule(which=pick)
    def technician_reports(self, which):
        visit = self.chosen(self.visits_in(*NEXT_STATUS), which)
        path = f"/jobs/{self.job_id}/visits/{visit['visit_id']}/status"
        moved = self.api.post(path, {"status": NEXT_STATUS[visit["status"]]})
        self.expect(moved, 200 if self.job_is_open else None)

    @precondition(lambda self: self.visits_in("unscheduled", "scheduled"))
    @rule(which=pick)
    def cancel_visit(self, which):
        visit = self.chosen(self.visits_in("unscheduled", "scheduled"), which)
        path = f"/jobs/{self.job_id}/visits/{visit['visit_id']}/cancel"
        self.expect(
            self.api.post(path, {"reason": "customer away"}), 200 if self.job_is_open else None
        )

    # --- the job -------------------------------------------------------------------------------

    @precondition(lambda self: self.data is not None and not self.job_is_open)
    @rule()
    def office_opens_the_closed_job(self):
        """(Once the job is closed, little else is left to do: a sequence can always go on.)"""
        self.expect(self.api.get(f"/jobs/{self.job_id}"), 200)

    @precondition(
        lambda self: self.job_is_open and self.cancel_after and self.steps >= self.cancel_after
    )
    @rule()
    def cancel_job(self):
        cancelled = self.api.post(f"/jobs/{self.job_id}/cancel", {"reason": "customer moved"})
        if self.job["stage"] == "paid":
            self.expect(cancelled, 409)
        else:
            self.expect(cancelled, 200)

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def the_ledger_holds(self):
        if self.api is None:
            return
        self.steps += 1
        self.refresh()
        problems = ledger_problems(self.data)
        assert problems == [], "\n".join(problems)
        for payment in self.card_payments(lambda p: p.get("refunds")):
            charge = stripe.charge(self.charges[payment["stripe_payment_intent_id"]])
            recorded = sum(r["amount_cents"] for r in payment["refunds"])
            assert charge["amount_refunded"] == recorded, (
                f"Stripe refunded {charge['amount_refunded']} of payment "
                f"{payment['payment_id']}, we recorded {recorded}"
            )

    # --- reading what is stored ----------------------------------------------------------------

    def refresh(self):
        self.data = self.reader.tenant(self.api.tenant_id, [self.job_id], self.technician_ids)

    def of(self, type_: str) -> list[dict[str, Any]]:
        if self.data is None:
            return []
        items = self.data.jobs[self.job_id].get(type_, [])
        return sorted((i["data"] for i in items), key=lambda d: d.get("created_at", ""))

    @property
    def job(self) -> dict[str, Any]:
        return self.of("job")[0]

    @property
    def job_is_open(self) -> bool:
        return self.data is not None and self.job["stage"] not in CLOSED

    @property
    def final_issued(self) -> bool:
        issued = ("sent", "partially_paid", "paid", "uncollectible")
        return any(i["kind"] == "final" and i["status"] in issued for i in self.of("invoice"))

    def quotes_in(self, *statuses: str) -> list[dict[str, Any]]:
        return [q for q in self.of("quote") if q["status"] in statuses]

    def deposit_unbilled(self) -> bool:
        """The approved option asks for a deposit, and no live invoice bills one yet."""
        if self.live_invoices("deposit"):
            return False
        return any(
            option["option_id"] == quote.get("approved_option_id") and option.get("deposit_cents")
            for quote in self.quotes_in("approved")
            for option in quote["options"]
        )

    def an_advance_is_a_draft(self) -> bool:
        """A final can't go out while a deposit or progress invoice it credits is a draft."""
        advances = [i for kind in ("deposit", "progress") for i in self.live_invoices(kind)]
        return any(i["status"] == "draft" for i in advances)

    def live_invoices(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.of("invoice") if i["kind"] == kind and i["status"] != "void"]

    def invoices_in(self, *statuses: str) -> list[dict[str, Any]]:
        return [i for i in self.of("invoice") if i["status"] in statuses]

    def visits_in(self, *statuses: str) -> list[dict[str, Any]]:
        return [v for v in self.of("visit") if v["status"] in statuses]

    def refundable(self) -> list[dict[str, Any]]:
        return [p for p in self.of("payment") if p["status"] in REFUNDABLE and _refundable(p) > 0]

    def card_payments(self, keep) -> list[dict[str, Any]]:
        return [
            p
            for p in self.of("payment")
            if p.get("stripe_payment_intent_id") in self.charges and keep(p)
        ]

    def payment_by_intent(self, intent_id: str) -> dict[str, Any]:
        return next(p for p in self.of("payment") if p.get("stripe_payment_intent_id") == intent_id)

    def card_in_flight(self, invoice_id: str) -> bool:
        """Stripe took the customer's card and its webhook has not reached us yet."""
        return any(e["data"]["object"]["metadata"]["invoice_id"] == invoice_id for e in self.late)

    def clashes(self, technician_id: str, start: datetime) -> bool:
        end = start + timedelta(minutes=VISIT_MINUTES)
        return any(
            _at(v["start"]) < end + TRAVEL_BUFFER and start < _at(v["end"]) + TRAVEL_BUFFER
            for v in self.visits_in(*HOLDS_TIME)
            if technician_id in (v.get("technician_ids") or [])
        )

    @staticmethod
    def chosen(found: list[dict[str, Any]], which: int) -> dict[str, Any]:
        return found[which % len(found)]

    def expect(self, response, status: int | str | None = None, code: str | None = None):
        """Never a 500; a refusal says why in the error body; and, when the rules say how it
        must go, it went that way."""
        body = response.data
        assert response.status_code < 500, f"{response.status_code}: {response.body!r}"
        if response.status_code >= 400:
            assert isinstance(body, dict) and body.get("error", {}).get("code"), body
            assert body["error"].get("message"), body
        if status == "4xx":
            assert 400 <= response.status_code < 500, f"expected a refusal: {body}"
        elif status is not None:
            assert response.status_code == status, f"not {status}: {response.status_code} {body}"
        if code is not None:
            assert body["error"]["code"] == code, body


def _refunded(payment: dict) -> int:
    return sum(r["amount_cents"] for r in payment.get("refunds") or [])


def _kept(payment: dict) -> int:
    return payment["amount_cents"] - _refunded(payment) - payment.get("dispute_lost_cents", 0)


def _refundable(payment: dict) -> int:
    held = sum(p["amount_cents"] for p in payment.get("pending_refunds") or [])
    return _kept(payment) - held


def _can_be_disputed(payment: dict) -> bool:
    undisputed = payment["status"] in REFUNDABLE and not payment.get("dispute_status")
    return undisputed and _kept(payment) > 0


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


READS = ("Query", "GetItem", "BatchGetItem", "TransactGetItems")


@pytest.fixture
def quick_reads(moto_endpoint, monkeypatch):
    """moto (5.2) writes a read's answer member by member against the service model, most of
    the time of a step once a job has a long history (every request reads the job's whole
    partition). A read's result is already DynamoDB's JSON: write it as JSON (binary values in
    base64, as the model-driven writer does). Same bytes to the client, checked on moto 5.2.5."""
    import base64
    import json

    from moto.dynamodb.responses import DynamoResult

    slow = DynamoResult.execute_result

    def execute_result(self, context):
        if context.operation_model.name not in READS:
            return slow(self, context)
        body = json.dumps(self.result, default=lambda b: base64.b64encode(b).decode())
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    monkeypatch.setattr(DynamoResult, "execute_result", execute_result)


# Not marked slow (slow tests run last, after the workflow tests, whose session stage re-reads
# the settings): this one runs with the integration tests, on the session's own settings.
def test_the_job_ledger_holds_whatever_happens_to_a_job(client, moto_endpoint, quick_reads):
    reader = local_reader(moto_endpoint, TABLE)
    run_state_machine_as_test(
        lambda: JobLedger(client, reader),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=not LONG_RUN,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- the checker itself: a green check means something -----------------------------------------


def _ledger(stage: str = "paid") -> TenantData:
    """One job, billed by the rules: a quote approved, a paid deposit, a final that bills the
    scope less the deposit, paid by card, part of it refunded and billed again."""
    at = "2030-06-03T15:00:00.000000Z"
    line = {"description": "Heater", "quantity": 1, "unit_price_cents": 10000, "taxable": False}
    quote = {
        "quote_id": "q1",
        "status": "approved",
        "created_at": at,
        "approved_at": at,
        "approved_option_id": "o1",
        "options": [{"option_id": "o1", "line_items": [line]}],
    }
    deposit = _invoice("d1", "deposit", 1, [_line("Deposit", 2500, "deposit")], "paid")
    credit = {**_line("Less deposit", -2500, "credit"), "credits_invoice_id": "d1"}
    final = _invoice("f1", "final", 2, [_line("Heater", 10000, "scope"), credit], "paid")
    payments = [
        _payment("p1", "d1", 2500),
        _payment("p2", "f1", 7500, refunds=[{"refund_id": "r1", "amount_cents": 500}]),
        _payment("p3", "f1", 500),
    ]
    final["amount_paid_cents"], final["refunded_cents"] = 8000, 500
    events = [
        _event(1, "PaymentRecorded", payment_id="p1"),
        _event(2, "PaymentSucceeded", payment_id="p2"),
        _event(3, "RefundIssued", refund_id="r1", payment_id="p2"),
        _event(4, "PaymentRecorded", payment_id="p3"),
    ]
    items = {
        "job": [{"data": {"job_id": "j1", "stage": stage}}],
        "quote": [{"data": quote}],
        "invoice": [{"data": deposit, "GSI1PK": "T#t1#INVSTATUS#paid"}, {"data": final}],
        "payment": [{"data": p} for p in payments],
        "event": events,
    }
    data = TenantData("t1")
    data.jobs["j1"] = items
    return data


def _line(description: str, amount: int, kind: str) -> dict:
    return {
        "description": description,
        "quantity": 1,
        "unit_price_cents": amount,
        "taxable": False,
        "amount_cents": amount,
        "tax_cents": 0,
        "kind": kind,
    }


def _invoice(invoice_id: str, kind: str, number: int, lines: list, status: str) -> dict:
    total = sum(line["amount_cents"] for line in lines)
    return {
        "invoice_id": invoice_id,
        "kind": kind,
        "number": number,
        "status": status,
        "line_items": lines,
        "total_cents": total,
        "amount_paid_cents": total,
        "refunded_cents": 0,
        "balance_cents": 0,
        "created_at": f"2030-06-03T1{number}:00:00.000000Z",
        "sent_at": f"2030-06-03T1{number}:30:00.000000Z",
    }


def _payment(payment_id: str, invoice_id: str, amount: int, refunds=()) -> dict:
    return {
        "payment_id": payment_id,
        "invoice_id": invoice_id,
        "amount_cents": amount,
        "status": "partially_refunded" if refunds else "succeeded",
        "refunds": list(refunds),
    }


def _event(n: int, type_: str, **data) -> dict:
    at = f"2030-06-03T20:00:0{n}.000Z"
    return {
        "SK": f"EVT#{at}#e{n}",
        "data": {"event_id": f"e{n}", "type": type_, "at": at, "data": data},
    }


def test_a_ledger_kept_by_the_rules_passes():
    assert _problems(_ledger()) == []


def test_the_checker_names_each_rule_broken():
    data = _ledger()
    items = data.jobs["j1"]
    deposit, final = (i["data"] for i in items["invoice"])
    # The final bills the scope at another price and credits the deposit twice...
    final["line_items"][0]["unit_price_cents"] = 9000
    final["line_items"].append(dict(final["line_items"][1]))
    # ...a third invoice skips a number and is owed, yet the job stays paid...
    extra = _invoice("x1", "progress", 4, [_line("Extra", 100, "work")], "sent")
    extra["amount_paid_cents"], extra["balance_cents"] = 0, 100
    items["invoice"].append({"data": extra})
    # ...a dispute was lost without the timeline saying so, and a refund is told twice.
    items["payment"][0]["data"].update(status="disputed", dispute_status="lost")
    items["payment"][0]["data"]["dispute_lost_cents"] = 2500
    deposit["dispute_lost_cents"], deposit["balance_cents"] = 2500, 2500
    items["event"].append(_event(5, "RefundIssued", refund_id="r1"))

    problems = "\n".join(_problems(data))

    assert "bills [('Heater', 1, 9000, False)] as the scope" in problems, problems
    assert "credits deposit invoice d1 2 times" in problems, problems
    assert "job j1 is paid with unpaid invoices x1 (sent)" in problems, problems
    assert "invoices are numbered [1, 2, 4]" in problems, problems
    assert "payment p1 (dispute lost) is told 0 times as lost in a dispute" in problems, problems
    assert "refund r1 of payment p2 is told 2 times" in problems, problems


def test_money_kept_beyond_what_is_billed_and_a_closed_job_holding_work_are_named():
    data = _ledger(stage="cancelled")
    items = data.jobs["j1"]
    items["invoice"][1]["data"]["total_cents"] = 7000  # billed less than the card kept
    items["invoice"][1]["data"]["balance_cents"] = -500
    items["visit"] = [{"data": {"visit_id": "v1", "status": "scheduled"}}]
    items["invoice"].append(
        {"data": {**_invoice("x2", "progress", 0, [], "draft"), "number": None}}
    )

    problems = "\n".join(_problems(data))

    assert "job j1 kept 10000 but its live invoices bill only 9500" in problems, problems
    assert "job j1 is cancelled but visit v1 is scheduled" in problems, problems
    assert "job j1 is cancelled but invoice x2 is a draft" in problems, problems


def _problems(data: TenantData) -> list[str]:
    return [p for p in ledger_problems(data) if "indexed as" not in p]
