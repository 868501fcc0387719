"""localstripe, refusing what real Stripe refuses and playing Stripe Connect.

Run as `python -m localstage.localstripe_strict` with localstripe's own arguments. localstripe
ignores `payment_method_types` and any amount's size, and knows no connected accounts; Stripe
answers 400 for the first two, and Fieldline charges every payment on a tenant's connected
account (direct charges), so a local stage without them would hide what breaks in production:

- a payment method type that does not take the intent's currency fails the whole intent, cards
  included ("The currency provided (eur) is invalid for one or more payment method types on
  this PaymentIntent"); ACH Direct Debit (`us_bank_account`) takes USD only;
- an amount above 8 digits (999,999.99 USD, 99,999,999 JPY) is `amount_too_large`.

Connect, as far as Fieldline uses it:

- **Accounts** (`POST/GET /v1/accounts`, Standard/Express/Custom): made with onboarding due and
  charges and payouts disabled. `POST /v1/accounts` honours `Idempotency-Key`.
- **Account Links** (`POST /v1/account_links`): a single-use onboarding URL that expires after
  300 s. Opening it plays Stripe's hosted onboarding finished: the account is enabled,
  `account.updated` goes out, and the browser is sent to `return_url` (to `refresh_url` if the
  link was used or expired).
- **`Stripe-Account`**: a request naming an account acts in it. Naming an account that does not
  exist is 403, as in Stripe; an object of another account is 404; what it creates belongs to
  the account, and lists show only the account's objects (the balance history too). A request
  naming no account that reads a connected account's object acts in that account from then on
  (Stripe would answer 404: the README's and the tests' curl calls stand in for Stripe.js,
  which names the account). A PaymentIntent on an account whose charges are not enabled is
  refused; `application_fee_amount` needs a named account and at most the amount.
- **Events** about a connected account's objects carry `account` and go only to the webhooks
  registered as Connect endpoints (`POST /_config/connect_webhooks/{id}`, url and secret),
  the platform's only to the others, each signed with its own endpoint's secret.
- **Test control**: `POST /_config/accounts/{id}` (JSON) with `{"onboarded": true}`, or the
  fields to set (`charges_enabled`, `payouts_enabled`, `details_submitted`, `currently_due`,
  `past_due`, `eventually_due`, `disabled_reason`), sends `account.updated`;
  `{"deauthorized": true}` sends `account.application.deauthorized`.

The intent also keeps its `payment_method_types`, as Stripe's does, for the tests to read.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import logging
import time

from aiohttp import ClientError, ClientSession, web
from localstripe import resources, server, webhooks
from localstripe.errors import UserError

MAX_AMOUNT = 99_999_999
# The currencies of each type Fieldline may ask for (None: any currency).
CURRENCIES: dict[str, set[str] | None] = {"card": None, "us_bank_account": {"usd"}}
LINK_SECONDS = 300
# What a new Standard account still has to give Stripe (a sample of Stripe's names).
ONBOARDING_DUE = ["business_profile.url", "external_account", "tos_acceptance.date"]

# The connected account the current request acts in, and whether it named it itself.
ACTING = contextvars.ContextVar("stripe_account", default=None)
NAMED = contextvars.ContextVar("stripe_account_named", default=False)

_create_intent = resources.PaymentIntent.__init__


def _strict_intent(
    self, amount=None, currency=None, payment_method_types=None, application_fee_amount=None, **kw
):
    types = payment_method_types or ["card"]
    if not isinstance(types, list) or any(t not in CURRENCIES for t in types):
        raise UserError(400, f"The payment method type {types!r} is invalid.")
    for kind in types:
        allowed = CURRENCIES[kind]
        if allowed is not None and str(currency).lower() not in allowed:
            raise UserError(
                400,
                f"The currency provided ({currency}) is invalid for one or more payment method "
                f"types on this PaymentIntent. The payment method type {kind} only supports the "
                f"following currencies: {', '.join(sorted(allowed))}.",
                {"param": "currency"},
            )
    value = resources.try_convert_to_int(amount)
    if isinstance(value, int) and value > MAX_AMOUNT:
        raise UserError(
            400,
            "Amount must be no more than 99,999,999 in the currency's smallest unit.",
            {"code": "amount_too_large", "param": "amount"},
        )
    fee = _application_fee(application_fee_amount, value)
    _charges_enabled_or_refuse()
    _create_intent(self, amount=amount, currency=currency, **kw)
    self.payment_method_types = types
    self.application_fee_amount = fee


def _application_fee(fee, amount):
    if fee is None:
        return None
    if not NAMED.get():
        raise UserError(
            400,
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination payment "
            "(using `transfer_data[destination]`).",
            {"param": "application_fee_amount"},
        )
    fee = resources.try_convert_to_int(fee)
    if not isinstance(fee, int) or fee < 0 or (isinstance(amount, int) and fee > amount):
        raise UserError(
            400,
            "The application fee must be a positive integer no larger than the amount.",
            {"param": "application_fee_amount"},
        )
    return fee


def _charges_enabled_or_refuse():
    account = _account_named()
    if account is not None and not account.charges_enabled:
        raise UserError(
            400,
            f"The account {account.id} cannot currently make charges: its onboarding is not "
            "complete or Stripe disabled its charges.",
            {"code": "account_invalid"},
        )


resources.PaymentIntent.__init__ = _strict_intent


# --- SetupIntents (cards on file) ---------------------------------------------------------------
# localstripe's SetupIntent takes only card, sepa_debit and ideal, never attaches the method to
# the intent's Customer, sends no `setup_intent.succeeded`, and detaches a method attached to
# no one. Stripe takes `us_bank_account` (the method needs a mandate, which Stripe.js records
# when it confirms), attaches the method to the Customer on success and says so in an event, and
# refuses to detach a method attached to no Customer.

SETUP_TYPES = ("card", "us_bank_account")
_create_setup = resources.SetupIntent.__init__
_confirm_setup = resources.SetupIntent._api_confirm.__func__
_detach_method = resources.PaymentMethod._api_detach.__func__


def _strict_setup(self, payment_method_types=None, **kw):
    types = payment_method_types or ["card"]
    if not isinstance(types, list) or any(t not in SETUP_TYPES for t in types):
        raise UserError(400, f"The payment method type {types!r} is invalid.")
    _create_setup(self, payment_method_types=["card"], **kw)
    self.payment_method_types = types
    self.mandate = None
    self.created = int(time.time())


def _confirm_and_attach(cls, id, mandate_data=None, **kw):
    setup = _confirm_setup(cls, id, **kw)
    if setup.status == "succeeded":
        if setup.customer and setup.payment_method:
            method = resources.PaymentMethod._api_retrieve(setup.payment_method)
            method.customer = setup.customer
        webhooks.schedule_webhook(_event("setup_intent.succeeded", setup, setup._account))
    return setup


def _detach_attached(cls, id, **kw):
    method = resources.PaymentMethod._api_retrieve(id)
    if method.customer is None:
        raise UserError(
            400,
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
        )
    return _detach_method(cls, id, **kw)


resources.SetupIntent.__init__ = _strict_setup
# localstripe's routes hold its own confirm and detach; the middleware below answers these two.
STRICTER_ROUTES = {
    ("POST", "/v1/setup_intents/{id}/confirm"): lambda **kw: _confirm_and_attach(
        resources.SetupIntent, **kw
    ),
    ("POST", "/v1/payment_methods/{id}/detach"): lambda **kw: _detach_attached(
        resources.PaymentMethod, **kw
    ),
}


@web.middleware
async def stricter_routes(request, handler):
    url = request.match_info.route.resource
    key = (request.method, url.canonical if url is not None else "")
    if key in STRICTER_ROUTES:
        return await server.api_extra(STRICTER_ROUTES[key], key[1])(request)
    return await handler(request)


# --- connected accounts -------------------------------------------------------------------------


class Account(resources.StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(
        self,
        type=None,
        country=None,
        email=None,
        business_profile=None,
        metadata=None,
        default_currency=None,
        **kwargs,
    ):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if type not in ("standard", "express", "custom"):
            raise UserError(400, "Invalid type: must be one of standard, express or custom", {})
        if NAMED.get():
            raise UserError(400, "A connected account cannot create accounts.")
        super().__init__()
        self._account = None  # the platform's: every account is listed by the platform
        self.type = type
        self.country = country or "US"
        self.email = email
        self.default_currency = default_currency or "usd"
        self.business_profile = business_profile or {}
        self.metadata = metadata or {}
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False
        self.requirements = {
            "currently_due": list(ONBOARDING_DUE),
            "eventually_due": list(ONBOARDING_DUE),
            "past_due": [],
            "pending_verification": [],
            "disabled_reason": "requirements.past_due",
            "current_deadline": None,
            "errors": [],
        }

    def _onboard(self):
        self.charges_enabled = self.payouts_enabled = self.details_submitted = True
        for due in ("currently_due", "eventually_due", "past_due"):
            self.requirements[due] = []
        self.requirements["disabled_reason"] = None
        self._updated()

    def _set(self, changes: dict):
        for flag in ("charges_enabled", "payouts_enabled", "details_submitted"):
            if flag in changes:
                setattr(self, flag, bool(changes[flag]))
        for field in ("currently_due", "eventually_due", "past_due", "disabled_reason"):
            if field in changes:
                self.requirements[field] = changes[field]
        self._updated()

    def _updated(self):
        resources.store[f"{self.object}:{self.id}"] = self  # saved, as localstripe saves
        webhooks.schedule_webhook(_event("account.updated", self, self.id))


class Application:
    """The platform, as `account.application.deauthorized` shows it."""

    def _export(self, expand=None):
        return {"id": "ca_localstripe", "object": "application", "name": "Fieldline (local)"}


def _event(type_, data, account):
    token = ACTING.set(account)
    try:
        return resources.Event(type_, data)
    finally:
        ACTING.reset(token)


def _account_named():
    named = ACTING.get()
    return resources.store.get(f"account:{named}") if named else None


# --- Stripe-Account routing ---------------------------------------------------------------------

_object_init = resources.StripeObject.__init__
_retrieve = resources.StripeObject._api_retrieve.__func__
_list_all = resources.StripeObject._api_list_all.__func__
_event_init = resources.Event.__init__


def _owned_object(self, id=None):
    _object_init(self, id)
    self._account = ACTING.get()


def _retrieve_in_account(cls, id):
    obj = _retrieve(cls, id)
    owner = getattr(obj, "_account", None)
    if NAMED.get() and owner is not None and owner != ACTING.get():
        raise UserError(404, f"No such {cls.object}: '{id}'", {"code": "resource_missing"})
    if owner is not None and not NAMED.get():
        ACTING.set(owner)  # a request naming no account now acts in the object's
    return obj


def _list_in_account(cls, url, *args, **kwargs):
    found = _list_all(cls, url, *args, **kwargs)
    acting = ACTING.get()
    found._list = [obj for obj in found._list if getattr(obj, "_account", None) == acting]
    return found


def _event_about(self, type, data):
    _event_init(self, type, data)
    account = data.id if isinstance(data, Account) else getattr(data, "_account", None)
    self._account = account or ACTING.get()
    if self._account:
        self.account = self._account  # exported: Stripe names the account on Connect events


resources.StripeObject.__init__ = _owned_object
resources.StripeObject._api_retrieve = classmethod(_retrieve_in_account)
resources.StripeObject._api_list_all = classmethod(_list_in_account)
resources.Event.__init__ = _event_about


@web.middleware
async def stripe_account_header(request, handler):
    named = request.headers.get("Stripe-Account")
    if named and resources.store.get(f"account:{named}") is None:
        raise UserError(
            403,
            f"The provided key does not have access to account '{named}' (or that account does "
            "not exist). Application access may have been revoked.",
            {"code": "account_invalid"},
        )
    acting, naming = ACTING.set(named or None), NAMED.set(bool(named))
    try:
        return await handler(request)
    finally:
        ACTING.reset(acting)
        NAMED.reset(naming)


# --- account routes -----------------------------------------------------------------------------

_ACCOUNT_KEYS: dict[str, dict] = {}  # Idempotency-Key → the account made for it


async def create_account(request):
    key = request.headers.get("Idempotency-Key")
    if key and key in _ACCOUNT_KEYS:
        return server.json_response(_ACCOUNT_KEYS[key])
    data = await server.get_post_data(request) or {}
    data.pop("expand", None)
    made = Account(**data)._export()
    if key:
        _ACCOUNT_KEYS[key] = made
    return server.json_response(made)


_LINKS: dict[str, dict] = {}


async def create_account_link(request):
    data = await server.get_post_data(request) or {}
    for field in ("account", "type", "refresh_url", "return_url"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise UserError(400, f"Missing required param: {field}.", {"param": field})
    if data["type"] not in ("account_onboarding", "account_update"):
        raise UserError(400, f"Invalid type: {data['type']}", {"param": "type"})
    account = Account._api_retrieve(data["account"])
    if data["type"] == "account_update" and account.type == "standard":
        raise UserError(
            400,
            "You cannot create `account_update` type Account Links for accounts with access to "
            "a Stripe-hosted Dashboard.",
            {"param": "type"},
        )
    now = int(time.time())
    token = resources.random_id(24)
    _LINKS[token] = {**data, "expires_at": now + LINK_SECONDS, "used": False}
    url = f"{request.scheme}://{request.host}/_config/connect/onboarding/{token}"
    return server.json_response(
        {"object": "account_link", "created": now, "expires_at": now + LINK_SECONDS, "url": url}
    )


async def onboarding_page(request):
    """Stripe's hosted onboarding, finished at once: the account is enabled."""
    link = _LINKS.get(request.match_info["token"])
    if link is None:
        raise UserError(404, "Not Found")
    if link["used"] or link["expires_at"] < time.time():
        raise web.HTTPFound(link["refresh_url"])
    link["used"] = True
    Account._api_retrieve(link["account"])._onboard()
    raise web.HTTPFound(link["return_url"])


async def control_account(request):
    account = Account._api_retrieve(request.match_info["id"])
    changes = await request.json()
    if changes.get("deauthorized"):
        webhooks.schedule_webhook(
            _event("account.application.deauthorized", Application(), account.id)
        )
    elif changes.get("onboarded"):
        account._onboard()
    else:
        account._set(changes)
    return server.json_response(account._export())


async def config_connect_webhook(request):
    data = await server.get_post_data(request) or {}
    url, secret, events = data.get("url"), data.get("secret"), data.get("events")
    if not url or not secret or not url.startswith("http"):
        raise UserError(400, "Bad request")
    hook_id = f"connect:{request.match_info['id']}"
    webhooks.register_webhook(hook_id, url, secret, events)
    webhooks._webhooks[hook_id].connect = True
    return web.Response()


# --- webhooks: connected accounts' events to Connect endpoints only -------------------------------


async def _send_webhook(event):
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
    signed = b"%d.%s" % (event.created, payload)
    await asyncio.sleep(1)
    log = logging.getLogger("aiohttp.access")
    connected = getattr(event, "account", None) is not None
    for hook in list(webhooks._webhooks.values()):
        if getattr(hook, "connect", False) != connected:
            continue
        if hook.events is not None and event.type not in hook.events:
            continue
        mac = hmac.new(hook.secret.encode(), signed, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={event.created},v1={mac}",
        }
        try:
            async with (
                ClientSession() as session,
                session.post(hook.url, data=payload, headers=headers) as answer,
            ):
                log.info(f'webhook "{event.type}" to {hook.url}: {answer.status}')
        except ClientError as exc:
            log.info(f'webhook "{event.type}" to {hook.url} failed: {exc}')


webhooks._send_webhook = _send_webhook

server.app.middlewares.append(stripe_account_header)
server.app.middlewares.append(stricter_routes)  # inside: it acts in the named account
for method, path, view in (
    ("POST", "/v1/accounts", create_account),
    ("GET", "/v1/accounts/{id}", server.api_retrieve(Account, "/v1/accounts/{id}")),
    ("GET", "/v1/accounts", server.api_list_all(Account, "/v1/accounts")),
    ("POST", "/v1/account_links", create_account_link),
    ("GET", "/_config/connect/onboarding/{token}", onboarding_page),
    ("POST", "/_config/accounts/{id}", control_account),
    ("POST", "/_config/connect_webhooks/{id}", config_connect_webhook),
):
    server.app.router.add_route(method, path, view)

# --- off-session charges (service plans' autopay) -----------------------------------------------
# localstripe answers a confirmed off-session intent whose card wants authentication with
# `requires_action` (200), a decline with a bare 402, knows Stripe's test ids only as
# `pm_card_visa*`, and ignores Idempotency-Key. Stripe answers both with a 402 CardError
# (`authentication_required` or `card_declined`) carrying `decline_code` and the intent, left
# `requires_payment_method`; takes the `pm_card_*` test ids below; and returns the first answer
# to a request repeated with its idempotency key (24 hours).

TEST_METHODS = {
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_authenticationRequired": "4000002760003184",
}
_test_article = resources.PaymentMethod._try_get_canonical_test_article.__func__
_create_intent_api = resources.PaymentIntent._api_create.__func__
_OFF_SESSION_ANSWERS: dict[tuple[str | None, str], tuple[int, dict]] = {}


def _more_test_methods(cls, id):
    number = TEST_METHODS.get(id)
    if number is None:
        return _test_article(cls, id)
    card = {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    return resources.PaymentMethod(type="card", card=card)


def _card_error(message: str, code: str, decline_code: str, intent) -> UserError:
    error = UserError(402, message, {"code": code, "decline_code": decline_code})
    error.body["error"].update(type="card_error", payment_intent=intent._export())
    return error


def _off_session_intent(cls, off_session=None, **data):
    if resources.try_convert_to_bool(off_session) is not True:
        return _create_intent_api(cls, off_session=off_session, **data)
    try:
        intent = _create_intent_api(cls, off_session=True, **data)
    except UserError as declined:
        charge_id = declined.body.get("error", {}).get("charge")
        if declined.code != 402 or not charge_id:
            raise
        charge = resources.Charge._api_retrieve(charge_id)
        intent = resources.PaymentIntent._api_retrieve(charge.payment_intent)
        error = _card_error("Your card was declined.", "card_declined", "generic_decline", intent)
        raise error from None
    if intent.status == "requires_action":  # the customer is not there to authenticate
        intent.next_action, intent.payment_method = None, None
        webhooks.schedule_webhook(
            _event("payment_intent.payment_failed", intent, getattr(intent, "_account", None))
        )
        raise _card_error(
            "Your card was declined. This transaction requires authentication.",
            "authentication_required",
            "authentication_required",
            intent,
        )
    return intent


@web.middleware
async def off_session_idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or request.path != "/v1/payment_intents" or not key:
        return await handler(request)
    data = await server.get_post_data(request) or {}
    if resources.try_convert_to_bool(data.get("off_session")) is not True:
        return await handler(request)
    remembered = (ACTING.get(), key)
    if remembered in _OFF_SESSION_ANSWERS:
        status, body = _OFF_SESSION_ANSWERS[remembered]
        return server.json_response(body, status=status)
    try:
        answer = await handler(request)
    except UserError as refused:
        _OFF_SESSION_ANSWERS[remembered] = (refused.code, refused.body)
        raise
    _OFF_SESSION_ANSWERS[remembered] = (answer.status, json.loads(answer.body))
    return answer


resources.PaymentMethod._try_get_canonical_test_article = classmethod(_more_test_methods)
resources.PaymentIntent._api_create = classmethod(_off_session_intent)
server.app.middlewares.append(off_session_idempotency)

if __name__ == "__main__":
    server.start()
