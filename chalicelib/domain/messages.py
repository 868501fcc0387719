"""Texts (and later emails) exchanged with customers, recorded on the job."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

# Carrier keywords (Twilio's lists for long codes). Twilio acts on a message that is only the
# keyword; we also forgive spacing, case and a trailing full stop.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
START_WORDS = {"START", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}
CONFIRM_WORDS = {"C", "Y", "YES", "CONFIRM"}

# Delivery moves forward only: a late 'sent' never undoes 'delivered'.
STATUS_ORDER = {
    "suppressed": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "received": 4,
}


class Message(BaseModel):
    message_id: str
    job_id: str | None = None
    customer_id: str | None = None
    direction: str = "outbound"
    channel: str = "sms"
    kind: str  # quote_link, invoice_link, on_my_way, reminder, dunning, reply, inbound
    to: str
    from_: str | None = None
    body: str
    status: str = "queued"
    provider_id: str | None = None
    error: str | None = None
    created_at: datetime
    version: int | None = None


def keyword(body: str) -> str:
    """The text as a keyword: words single-spaced, upper case, without a final '.' or '!'."""
    return " ".join(body.split()).upper().rstrip(".!")


def opt_out_choice(word: str) -> bool | None:
    """True for an opt-out keyword, False for an opt-in one, None for anything else."""
    if word in STOP_WORDS:
        return True
    if word in START_WORDS:
        return False
    return None
