"""Sending texts: Twilio in deployed stages, an in-memory outbox in the local stage.

Both sit behind `SmsGateway.send`, so services never know which one runs.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Protocol

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.ids import new_id

# Twilio's "Attempt to send to unsubscribed recipient": the phone texted STOP to this sender
# (or to the Messaging Service it belongs to), and every send to it is refused until START.
UNSUBSCRIBED_RECIPIENT = 21610
# Seconds, for connecting and for each read alike (the SDK takes one number). Twilio accepts a
# text in well under a second; three connect timeouts (messaging retries those) or one read
# timeout still leave a request most of its 29 s.
TIMEOUT_SECONDS = 5


class SmsFailed(Exception):
    """Twilio refused or could not be reached. `retryable` tells a transient failure apart;
    `code` is Twilio's error code when it gave one."""

    def __init__(self, message: str, retryable: bool, code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.code = code

    @property
    def recipient_opted_out(self) -> bool:
        return self.code == UNSUBSCRIBED_RECIPIENT


class SmsGateway(Protocol):
    def send(self, to: str, from_: str, body: str, status_callback: str | None) -> str:
        """Send a text; returns the provider's message id."""


@dataclass
class OutboxEntry:
    id: str
    channel: str
    to: str
    from_: str
    body: str
    sent_at: str
    subject: str | None = None


class Outbox:
    """What the local stage 'sent', newest first, readable at /dev/outbox."""

    def __init__(self) -> None:
        self._entries: list[OutboxEntry] = []
        self._opted_out: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def opt_out(self, from_: str, to: str, opted_out: bool = True) -> None:
        """Play the carrier's side of STOP (and START with `opted_out=False`): sends from
        `from_` to `to` are refused with 21610, whatever the app has recorded."""
        with self._lock:
            (self._opted_out.add if opted_out else self._opted_out.discard)((from_, to))

    def refuses(self, from_: str, to: str) -> bool:
        with self._lock:
            return (from_, to) in self._opted_out

    def add(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._entries.insert(0, entry)

    def read(self, to: str | None = None) -> list[dict]:
        with self._lock:
            return [asdict(e) for e in self._entries if to is None or e.to == to]


OUTBOX = Outbox()


class OutboxGateway:
    def send(self, to: str, from_: str, body: str, status_callback: str | None) -> str:
        if OUTBOX.refuses(from_, to):
            raise SmsFailed(
                "twilio 400: Attempt to send to unsubscribed recipient",
                retryable=False,
                code=UNSUBSCRIBED_RECIPIENT,
            )
        sid = "SM" + new_id().upper()
        OUTBOX.add(OutboxEntry(sid, "sms", to, from_, body, clock.iso(clock.now())))
        return sid


class TwilioGateway:
    def __init__(self, account_sid: str, auth_token: str):
        # lazy: ~165 ms a cold start that doesn't text skips
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # Without a timeout the SDK's requests wait forever on a stalled connection.
        http = TwilioHttpClient(timeout=TIMEOUT_SECONDS)
        self._client = Client(account_sid, auth_token, http_client=http)

    def send(self, to: str, from_: str, body: str, status_callback: str | None) -> str:
        from requests.exceptions import ReadTimeout
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self._client.messages.create(
                to=to, from_=from_, body=body, status_callback=status_callback
            )
        except TwilioRestException as exc:
            raise SmsFailed(
                f"twilio {exc.status}: {exc.msg}", retryable=exc.status >= 500, code=exc.code
            ) from exc
        except ReadTimeout as exc:
            # Twilio had the request and did not answer in time: it may well have sent the
            # text, and its API takes no idempotency key, so another try could send it twice.
            raise SmsFailed(f"twilio did not answer in time: {exc}", retryable=False) from exc
        except (TwilioException, OSError) as exc:
            raise SmsFailed(f"twilio unreachable: {exc}", retryable=True) from exc
        except ValueError as exc:  # a 2xx whose body is not JSON (a proxy's page)
            raise SmsFailed(f"twilio's answer could not be read: {exc}", retryable=False) from exc
        if not isinstance(message.sid, str) or not message.sid:
            # Twilio may well have taken the text: another try could send it twice.
            raise SmsFailed("twilio answered without a message sid", retryable=False)
        return message.sid


@lru_cache(maxsize=1)
def gateway() -> SmsGateway:
    settings = get_settings()
    if settings.sms_provider == "outbox":
        return OutboxGateway()
    return TwilioGateway(settings.twilio_account_sid, settings.twilio_auth_token)
