"""Customers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Latitude, ListQuery, Longitude, Out, PageOut, Patch, Strict
from chalicelib.domain.callers import STAFF
from chalicelib.domain.customers import Address
from chalicelib.services import customers

api = Api(__name__, "customers")


class AddressIn(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field("US", pattern="^[A-Z]{2}$")
    lat: Latitude | None = None
    lng: Longitude | None = None


class CustomerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=32)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: AddressIn | None = None
    timezone: str | None = Field(None, max_length=64)


class CustomerPatch(Patch):
    """Email, address and time zone can be cleared (null); name and phone cannot."""

    name: str = Field(None, min_length=1, max_length=200)
    phone: str = Field(None, min_length=3, max_length=32)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: AddressIn | None = None
    timezone: str | None = Field(None, max_length=64)


class CustomerOut(Out):
    id: str = Field(validation_alias="customer_id")
    name: str
    phone: str
    email: str | None
    address: Address | None
    timezone: str | None
    sms_opted_out: bool
    created_at: datetime
    version: int


class CustomerPage(PageOut[CustomerOut]):
    pass


class CustomerQuery(ListQuery):
    q: str | None = Field(None, max_length=100)


@api.route("/customers", "POST", roles=STAFF, body=CustomerIn, response=CustomerOut, status=201)
def create_customer(body: CustomerIn):
    """Add a customer; the phone is stored E.164."""
    return customers.create(caller(), body.model_dump())


@api.route("/customers", "GET", roles=STAFF, query=CustomerQuery, response=CustomerPage)
def list_customers(query: CustomerQuery):
    """Customers by name, or by a prefix of their name or phone (`q`)."""
    return customers.search(caller(), query.q, query.cursor, query.limit)


@api.route("/customers/{customer_id}", "GET", roles=STAFF, response=CustomerOut)
def get_customer(customer_id: str):
    """One customer."""
    return customers.get(caller(), customer_id)


@api.route(
    "/customers/{customer_id}", "PATCH", roles=STAFF, body=CustomerPatch, response=CustomerOut
)
def patch_customer(customer_id: str, body: CustomerPatch, if_match: int | None = None):
    """Change a customer's details."""
    return customers.update(caller(), customer_id, body.model_dump(exclude_unset=True), if_match)
