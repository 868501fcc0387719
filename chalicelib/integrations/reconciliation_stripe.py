"""What reconciliation reads from Stripe (read-only): an account's balance history, the charges,
PaymentIntents, refunds and payouts behind it, and the connected accounts to go through.

Balance transactions come newest first, so "everything since the cursor" is paged until a
transaction older than the cursor shows up. (Stripe also takes `created[gte]`; localstripe
refuses any filter, and stopping at the cursor costs the same number of pages.)

Pages come with their sources expanded (`expand[]=data.source`: the charge, refund or payout
of each transaction), so a page is one call rather than one per charge. Each call is bounded
(`TIMEOUT_SECONDS`) and never retried by the SDK: the task works to a time budget and the state
machine retries a failed task with backoff, so one slow call cannot hold a task past its
timeout.

The SDK is imported lazily, as in `payments_stripe`. Unreachable Stripe → `Unavailable`, which
the state machine retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.errors import Unavailable
from chalicelib.logs import logger

PAGE_SIZE = 100
# Balance transactions come with their sources: a smaller page keeps each call short.
BALANCE_PAGE_SIZE = 50
EXPAND_SOURCES = ["data.source"]
# Seconds: (connect, read).
TIMEOUT_SECONDS = (2, 8)


@dataclass(frozen=True)
class BalancePage:
    transactions: list[dict[str, Any]]
    has_more: bool


def balance_page(account: str | None, starting_after: str | None) -> BalancePage:
    """The next page of the account's balance history, newest first, sources expanded."""
    params: dict[str, Any] = {"limit": BALANCE_PAGE_SIZE, "expand": EXPAND_SOURCES}
    if starting_after:
        params["starting_after"] = starting_after
    with _calling():
        page = _client().v1.balance_transactions.list(params=params, options=_options(account))
    return BalancePage([t.to_dict() for t in page.data], bool(page.has_more))


def charge(charge_id: str, account: str | None) -> dict[str, Any]:
    with _calling():
        return _client().v1.charges.retrieve(charge_id, options=_options(account)).to_dict()


def intent(intent_id: str, account: str | None) -> dict[str, Any]:
    with _calling():
        found = _client().v1.payment_intents.retrieve(intent_id, options=_options(account))
    return found.to_dict()


def refund(refund_id: str, account: str | None) -> dict[str, Any]:
    with _calling():
        return _client().v1.refunds.retrieve(refund_id, options=_options(account)).to_dict()


def connected_accounts() -> list[str]:
    """The platform's connected accounts (one per tenant that takes card payments; the local
    stage's Stripe double lists its accounts as Stripe does)."""
    accounts: list[str] = []
    starting_after = None
    while True:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if starting_after:
            params["starting_after"] = starting_after
        with _calling():
            page = _client().v1.accounts.list(params=params)
        accounts += [a.id for a in page.data]
        if not page.has_more or not page.data:
            return accounts
        starting_after = page.data[-1].id


def payout_transactions(payout_id: str, account: str | None) -> list[dict[str, Any]] | None:
    """The balance transactions a payout paid out; None where that listing is not served
    (localstripe)."""
    import stripe

    found: list[dict[str, Any]] = []
    starting_after = None
    while True:
        params: dict[str, Any] = {
            "limit": BALANCE_PAGE_SIZE,
            "payout": payout_id,
            "expand": EXPAND_SOURCES,
        }
        if starting_after:
            params["starting_after"] = starting_after
        try:
            with _calling():
                page = _client().v1.balance_transactions.list(
                    params=params, options=_options(account)
                )
        except stripe.InvalidRequestError:
            logger.info("payout contents not listed by this Stripe")
            return None
        found += [t.to_dict() for t in page.data]
        if not page.has_more or not page.data:
            return found
        starting_after = page.data[-1].id


def _options(account: str | None) -> dict[str, Any]:
    return {"stripe_account": account} if account else {}


def _client():
    settings = get_settings()
    return _client_for(settings.stripe_secret_key, settings.stripe_api_base)


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str | None):
    import stripe

    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


class _calling:
    """Connection trouble and Stripe's 5xx become Unavailable (retried); the rest is raised."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            return False
        import stripe

        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
            isinstance(exc, stripe.StripeError) and (exc.http_status or 0) >= 500
        ):
            raise Unavailable(
                "Stripe could not be reached for reconciliation", code="stripe_unavailable"
            ) from exc
        return False
