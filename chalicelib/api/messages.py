"""Messages across jobs: the office's list of failed (or any status of) texts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.enums import MessageChannel, MessageDirection, MessageStatus
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut
from chalicelib.domain.callers import STAFF
from chalicelib.services import messaging

api = Api(__name__, "messages")


class MessageQuery(ListQuery):
    status: Literal[
        "queued", "sent", "delivered", "undelivered", "failed", "suppressed", "received"
    ] = "failed"


class MessageOut(Out):
    id: str = Field(validation_alias="message_id")
    job_id: str | None
    customer_id: str | None
    direction: MessageDirection
    channel: MessageChannel
    kind: str = Field(
        description="What the text is: quote_link, invoice_link, on_my_way, reminder, dunning, "
        "visit_confirmed, help, reply, inbound, or a notice to the office"
    )
    to: str
    body: str
    status: MessageStatus
    error: str | None
    created_at: datetime


class MessagePage(PageOut[MessageOut]):
    pass


@api.route("/messages", "GET", roles=STAFF, query=MessageQuery, response=MessagePage)
def list_messages(query: MessageQuery):
    """Texts by status, newest first (default: failed ones, for the office to follow up)."""
    return messaging.by_status(caller(), query.status, query.cursor, query.limit)
