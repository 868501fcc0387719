"""Stripe for cards on file: a Stripe Customer, SetupIntents and saved PaymentMethods, all on
the tenant's connected account (Connect Standard: the method is the tenant's, as its charges are).

A SetupIntent made for a Customer attaches its PaymentMethod to that Customer when it succeeds;
`usage: off_session` tells Stripe the method will be charged while the customer is away (plans'
autopay), so Stripe authenticates it up front where the card's bank asks. The SDK, the client,
the error mapping and the idempotency keys are payments_stripe's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.integrations.payments_stripe import _calling, _client, _field, _options


@dataclass(frozen=True)
class Setup:
    id: str
    client_secret: str
    status: str
    payment_method: str | None
    customer: str | None
    mandate: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class Method:
    id: str
    type: str
    brand: str | None
    last4: str
    exp_month: int | None
    exp_year: int | None
    customer: str | None


def create_customer(
    name: str, phone: str, email: str | None, metadata: dict[str, str], account: str | None
) -> str:
    """A Stripe Customer for ours, made once: the idempotency key names our customer."""
    params: dict[str, Any] = {"name": name, "phone": phone, "metadata": metadata}
    if email:
        params["email"] = email
    key = f"customer-{metadata['tenant_id']}-{metadata['customer_id']}-{account or 'platform'}"
    with _calling("card setup"):
        made = _client().v1.customers.create(params=params, options=_options(account, key))
    return _field(made, "id", str, "card setup")


def create_setup_intent(
    customer: str,
    methods: list[str],
    metadata: dict[str, str],
    account: str | None,
    idempotency_key: str,
) -> Setup:
    params = {
        "customer": customer,
        "usage": "off_session",
        "payment_method_types": methods,
        "metadata": metadata,
    }
    with _calling("card setup"):
        made = _client().v1.setup_intents.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _setup(made)


def retrieve_setup_intent(setup_id: str, account: str | None) -> Setup:
    with _calling("card setup"):
        return _setup(_client().v1.setup_intents.retrieve(setup_id, options=_options(account)))


def retrieve_method(method_id: str, account: str | None) -> Method:
    with _calling("card setup"):
        found = _client().v1.payment_methods.retrieve(method_id, options=_options(account))
    return _method(found)


def detach_method(method_id: str, account: str | None) -> None:
    """Detach a saved method from its Customer: it can never be charged again."""
    with _calling("card removal"):
        _client().v1.payment_methods.detach(method_id, options=_options(account))


def _setup(setup) -> Setup:
    pm = getattr(setup, "payment_method", None)
    customer = getattr(setup, "customer", None)
    mandate = getattr(setup, "mandate", None)
    metadata = getattr(setup, "metadata", None)
    return Setup(
        id=_field(setup, "id", str, "card setup"),
        client_secret=_field(setup, "client_secret", str, "card setup"),
        status=_field(setup, "status", str, "card setup"),
        payment_method=pm if isinstance(pm, str) else getattr(pm, "id", None),
        customer=customer if isinstance(customer, str) else getattr(customer, "id", None),
        mandate=mandate if isinstance(mandate, str) else getattr(mandate, "id", None),
        metadata=dict(metadata.to_dict()) if metadata is not None else {},
    )


def _method(pm) -> Method:
    kind = _field(pm, "type", str, "payment method")
    details = getattr(pm, kind, None)
    customer = getattr(pm, "customer", None)
    if kind == "card":
        brand = getattr(details, "brand", None)
        months = (getattr(details, "exp_month", None), getattr(details, "exp_year", None))
    else:  # a bank account: its bank's name stands for the brand
        brand = getattr(details, "bank_name", None)
        months = (None, None)
    return Method(
        id=_field(pm, "id", str, "payment method"),
        type=kind,
        brand=brand,
        last4=_field(details, "last4", str, "payment method"),
        exp_month=months[0],
        exp_year=months[1],
        customer=customer if isinstance(customer, str) else getattr(customer, "id", None),
    )
