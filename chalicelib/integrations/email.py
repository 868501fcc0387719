"""Email through Amazon SES (moto's SES locally and in tests). The local stage also shows
each email in its outbox beside the texts."""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.integrations.aws import client
from chalicelib.integrations.sms import OUTBOX, OutboxEntry


class EmailFailed(Exception):
    pass


def send_email(to: str, subject: str, text: str, html: str, reply_to: str | None) -> str:
    """Send a plain-text + HTML email; returns SES's message id."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    ses = client("ses")
    try:
        if settings.is_local:
            # moto, like a new SES account, only sends from a verified identity.
            ses.verify_email_identity(EmailAddress=settings.email_from)
        response = ses.send_email(
            Source=settings.email_from,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": text, "Charset": "UTF-8"},
                    "Html": {"Data": html, "Charset": "UTF-8"},
                },
            },
            ReplyToAddresses=[reply_to] if reply_to else [],
        )
    except (BotoCoreError, ClientError) as exc:
        raise EmailFailed(str(exc)) from exc
    if settings.is_local:
        OUTBOX.add(
            OutboxEntry(
                id=response["MessageId"],
                channel="email",
                to=to,
                from_=settings.email_from,
                body=text,
                sent_at=clock.iso(clock.now()),
                subject=subject,
            )
        )
    return response["MessageId"]
