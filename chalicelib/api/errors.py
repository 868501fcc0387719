"""Every error `code` a client can receive, with what it means: the contract clients branch on.

`/openapi.json` lists them as `ErrorOut.error.code`'s enum; a test fails when the code raises
one that is not here (tests/integration/test_error_codes.py), so add a new code here with it.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # 400: the request itself is malformed
    "bad_request": "400: a header, parameter or path the server cannot read",
    "malformed_json": "400: the body is not JSON",
    "invalid_cursor": "400: the cursor was altered, expired with its secret, or belongs to "
    "another list or filter: start from the first page",
    "invalid_phone": "400: a phone number that cannot be read as one",
    "invalid_signature": "400 (Stripe) or 403 (Twilio): a webhook whose signature does not match",
    "malformed_event": "400: a webhook event without the fields it must have",
    # 401, 403, 404, 405
    "unauthorized": "401: no token, or a token that is not valid",
    "forbidden": "403: the caller's role may not do this",
    "not_found": "404: no such object (or another tenant's), no such route, or a link that is "
    "altered or expired",
    "method_not_allowed": "405: the route exists but not with this method (see `Allow`)",
    # 409: the state of things refuses it
    "conflict": "409: the object is busy; the server retried and gave up: retry as is",
    "version_conflict": "409: the object changed since it was read (a stale `If-Match`, or a "
    "write that lost a race): reload, then retry; `details` holds `current_version`",
    "illegal_transition": "409: the object's status does not allow this (a paid job cancelled, "
    "a sent invoice edited, ...)",
    "double_booking": "409: a technician is already booked then (`details` names the visit)",
    "advance_unsent": "409: a final invoice cannot go out while a deposit or progress invoice it "
    "credits is a draft (`details` names them): send or void those first",
    "already_invoiced": "409: the job already has a final invoice, or the deposit its invoice",
    "number_taken": "409: another business holds that texting number",
    "stripe_account_taken": "409: another business holds that Stripe account",
    "slug_taken": "409: another business's booking page has that slug",
    "slot_taken": "409: the time is no longer free (`details[0].next_slots`: later free slots)",
    "cards_not_accepted": "409: the business's Stripe account takes no cards yet (card on file)",
    "payment_processing": "409: a card or bank payment is on its way for this invoice",
    "proposal_running": "409: the dispatch proposal is still being computed",
    "proposal_failed": "409: the dispatch proposal failed (see its `reason`)",
    "proposal_applied": "409: the dispatch proposal was already applied",
    "proposal_applying": "409: the dispatch proposal is being applied (GET it for progress)",
    "proposal_stale": "409: visits changed since the proposal was made: optimize again",
    "quote_expired": "409: the quote's link expired",
    "quote_superseded": "409: a newer quote replaced this one (the customer has a newer link)",
    "request_in_progress": "409: a request with this `Idempotency-Key` is still running",
    "upload_missing": "409: the photo has not been uploaded yet",
    "invitation_accepted": "409: the invitation was already accepted",
    "login_exists": "409: that email or phone already has a login",
    "already_clocked_in": "409: the technician is clocked in: clock out first",
    "not_clocked_in": "409: the technician is not clocked in",
    # 413, 415
    "payload_too_large": "413: the body is larger than 256 KiB",
    "unsupported_media_type": "415: the route does not take this `Content-Type`",
    # 422: well formed, but the rules refuse it
    "validation_error": "422: a field is missing, unknown, of the wrong type or out of range "
    "(`details`: `{field, message}`)",
    "idempotency_key_reused": "422: this `Idempotency-Key` was used with another body",
    "unrecognized_columns": "422: an imported CSV's header has no column this import reads "
    "for a required field (`details` names the field; docs/API.md lists the names read)",
    "too_many_rows": "422: the CSV has more rows than one import takes (2,000): split it",
    "export_too_large": "422: the business's records are more than one answer carries (Lambda: "
    "6 MB)",
    "amount_too_large": "422: above what Stripe can charge in the currency",
    "invalid_amount": "422: an amount that must be positive is not",
    "invalid_tip": "422: a tip that is no preset percent, not an amount, or more than the bill",
    "overpayment": "422: more than the invoice's balance",
    "refund_exceeds_payment": "422: more than what is left to refund on the payment",
    "invoice_not_payable": "422: the invoice takes no payment in its status",
    "invalid_invoice": "422: an invoice's lines, quantities or prices break a rule",
    "invalid_method": "422: not a payment method that can be recorded by hand",
    "no_saved_method": "422: autopay needs a payment method the customer saved (the card link: "
    "POST /customers/{id}/payment-methods/setup), or the one named is not theirs",
    "nothing_to_bill": "422: the invoice would bill nothing (or less than nothing)",
    "invalid_quote": "422: a quote's options, deposit or expiry break a rule",
    "unknown_option": "422: the quote has no such option",
    "invalid_pause": "422: a promise-to-pay date in the past or too far ahead",
    "invalid_recurrence": "422: a recurrence rule Fieldline does not take",
    "invalid_template": "422: a text template that cannot be used",
    "unknown_placeholder": "422: a template placeholder that does not exist",
    "outside_service_area": "422: the business does not take online bookings at that address",
    "invalid_timezone": "422: not an IANA time zone",
    "invalid_locale": "422: not a CLDR locale Fieldline writes in",
    "unsupported_currency": "422: a currency Fieldline does not bill in",
    "unknown_technician": "422: no such technician",
    "invitation_expired": "422: the invitation's link expired: the owner sends a new one",
    "own_account": "422: an owner cannot deactivate themselves or change their own role",
    "invalid_time_entry": "422: a time entry that ends before it starts or lasts over 24 hours",
    "missing_skill": "422: a technician lacks a skill the visit requires",
    "off_shift": "422: the visit falls outside a technician's shift",
    "technician_unavailable": "422: technicians lack skills and are off shift",
    "checklist_incomplete": "422: required checklist items are not done",
    "photo_too_large": "422: the uploaded photo is larger than allowed",
    "wrong_type": "422: the uploaded file is not of the type announced",
    "card_declined": "422: the card was declined (local stage card form)",
    "invalid_card": "422: the card's number, expiry or CVC is wrong (local stage card form)",
    "stripe_refused": "422: Stripe refused the operation (its reason in `message`)",
    "unsafe_webhook_url": "422: a webhook receiver that is not https on a public address "
    "(private, loopback, link-local and metadata addresses are refused)",
    # 429, 5xx: try again later (`Retry-After` says when)
    "too_many_requests": "429: over the stage's request rate: wait `Retry-After` seconds",
    "rate_limited": "429: too many online bookings from this address or phone: wait "
    "`Retry-After` seconds",
    "internal_error": "500: a bug on our side",
    "gateway_timeout": "504: the request took longer than the gateway waits (29 s); it may "
    "have taken effect: retry with the same `Idempotency-Key`",
    "upstream_unavailable": "503: an upstream service is unavailable; nothing was changed",
    "storage_unavailable": "503: the database is busy; nothing was changed",
    "stripe_unavailable": "503: Stripe could not be reached; nothing was changed",
    "bus_unavailable": "503: the event bus could not be reached; nothing was changed",
    "function_unavailable": "503: a background function could not be started",
    "workflow_unavailable": "503: a workflow could not be started",
    "travel_times_unavailable": "503: travel times could not be computed",
    "no_function": "503: the stage has no function for this work configured",
    "no_scheduler": "503: the stage has no scheduler configured",
    "no_workflow": "503: the stage has no workflow for this configured",
}

# What a status answers with when nothing more precise was raised (Chalice's own errors, the
# catch-all of unknown routes).
BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "upstream_unavailable",
    504: "gateway_timeout",
}


def for_status(status: int) -> str:
    return BY_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
