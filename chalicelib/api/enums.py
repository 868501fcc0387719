"""The closed sets a client may switch on, as the types requests and responses declare: each
is the domain's own tuple, so the document's enum is what the code can write. (A value outside
one fails the response's shape: a 500 in tests, never a silent new value for clients.)"""

from __future__ import annotations

from typing import Literal

from chalicelib.domain import invoices, jobs, pricebook, quotes, visits
from chalicelib.domain.messages import STATUS_ORDER

# mypy reads none of these (a Literal of a tuple is built at run time): pydantic does.
JobStage = Literal[jobs.STAGES]  # type: ignore[valid-type]
Priority = Literal[jobs.PRIORITIES]  # type: ignore[valid-type]
VisitStatus = Literal[visits.STATUSES]  # type: ignore[valid-type]
QuoteStatus = Literal[quotes.STATUSES]  # type: ignore[valid-type]
OptionStatus = Literal[quotes.OPTION_STATUSES]  # type: ignore[valid-type]
InvoiceKind = Literal[invoices.KINDS]  # type: ignore[valid-type]
OfficeInvoiceKind = Literal[invoices.OFFICE_KINDS]  # type: ignore[valid-type]
InvoiceStatus = Literal[invoices.STATUSES]  # type: ignore[valid-type]
LineKind = Literal[invoices.LINE_KINDS]  # type: ignore[valid-type]
PaymentMethod = Literal[invoices.METHODS]  # type: ignore[valid-type]
ManualMethod = Literal[invoices.MANUAL_METHODS]  # type: ignore[valid-type]
ItemKind = Literal[pricebook.KINDS]  # type: ignore[valid-type]
PaymentStatus = Literal[invoices.PAYMENT_STATUSES]  # type: ignore[valid-type]
DisputeStatus = Literal[invoices.DISPUTE_STATUSES]  # type: ignore[valid-type]
MessageStatus = Literal[tuple(STATUS_ORDER)]  # type: ignore[valid-type]
# inbound from the customer, outbound to them, internal: a notice for the office
MessageDirection = Literal["outbound", "inbound", "internal"]
# web: the customer's answer on a page; office: a notice shown only in the app
MessageChannel = Literal["sms", "email", "web", "office"]
PhotoStatus = Literal["pending", "uploaded"]
TextEncoding = Literal["GSM-7", "UCS-2"]
