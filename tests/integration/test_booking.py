"""A customer books a service on the business's booking page, into real availability."""

from __future__ import annotations

import html
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.integration.helpers import Api

CHICAGO = ZoneInfo("America/Chicago")
ADDRESS = {"line1": "1200 W Fulton St", "city": "Chicago", "region": "IL", "postal_code": "60607"}


def next_monday(after_days: int = 3) -> date:
    day = datetime.now(CHICAGO).date() + timedelta(days=after_days)
    return day + timedelta(days=(7 - day.weekday()) % 7)


DAY = next_monday()


def at(hour: int, minute: int = 0, day: date = DAY) -> str:
    """A wall-clock time in Chicago as the booking routes write it (RFC 3339, local offset)."""
    return datetime.combine(day, time(hour, minute), CHICAGO).isoformat()


def customer(phone: str = "(312) 555-0142", name: str = "Dana Whitfield", **address) -> dict:
    return {"name": name, "phone": phone, "address": {**ADDRESS, **address}}


class Shop:
    """A plumbing business taking online bookings: one plumber on 9:00-12:00, one service."""

    def __init__(self, owner: Api, shift=("09:00", "12:00"), **settings):
        self.owner = owner
        self.slug = f"acme-{uuid.uuid4().hex[:8]}"
        self.tech = owner.post(
            "/technicians",
            {
                "name": "Sam Ortiz",
                "phone": "(312) 555-0177",
                "skills": ["plumbing"],
                "shift": {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": shift[0],
                    "end": shift[1],
                },
            },
        ).data
        self.service = self.item(name="Drain cleaning", price=12900, minutes=60)
        configured = owner.call("PUT", "/settings/booking", self.settings(**settings))
        assert configured.status_code == 200, configured.body

    def item(
        self, name: str, price: int, minutes: int, bookable: bool = True, skills=("plumbing",)
    ):
        created = self.owner.post(
            "/pricebook/items",
            {
                "kind": "service",
                "name": name,
                "unit_price_cents": price,
                "duration_minutes": minutes,
                "required_skills": list(skills),
                "bookable_online": bookable,
            },
        )
        assert created.status_code == 201, created.body
        return created.data

    def settings(self, **changes) -> dict:
        return {
            "enabled": True,
            "slug": self.slug,
            "lead_time_hours": 2,
            "horizon_days": 60,
            "service_area": {"postal_codes": ["60607", "60608"]},
            **changes,
        }

    def public(self) -> Api:
        return Api(self.owner.client, "")

    def slots(self, day: date = DAY, service_id: str | None = None) -> list[dict]:
        query = f"service_id={service_id or self.service['id']}&date={day.isoformat()}"
        answer = self.public().get(f"/public/booking/{self.slug}/availability?{query}")
        assert answer.status_code == 200, answer.body
        return answer.data["slots"]

    def book(self, start: str, who: dict | None = None, headers: dict | None = None):
        body = {"service_id": self.service["id"], "start": start, "customer": who or customer()}
        return self.public().post(f"/public/booking/{self.slug}", body, headers=headers)


@pytest.fixture
def shop(owner):
    return Shop(owner)


def test_the_page_offers_the_bookable_services_with_their_price_and_length(shop):
    shop.item(name="Water heater flush", price=18900, minutes=90, bookable=False)
    page = shop.public().get(f"/public/booking/{shop.slug}")
    assert page.status_code == 200, page.body
    assert page.data["business_name"] == "Acme Plumbing"
    assert page.data["timezone"] == "America/Chicago"
    assert page.data["services"] == [
        {
            "id": shop.service["id"],
            "name": "Drain cleaning",
            "duration_minutes": 60,
            "price_cents": 12900,
        }
    ]


def test_a_customer_books_a_free_slot_and_the_office_sees_it_booked_online(shop):
    # Given the plumber's free morning
    assert [s["start"] for s in shop.slots()] == [at(9), at(9, 30), at(10), at(10, 30), at(11)]
    assert shop.slots()[0]["end"] == at(10)

    # When a new customer books 9:00
    booked = shop.book(at(9))

    # Then the visit is theirs, on the plumber's day, and the job is scheduled, booked online
    assert booked.status_code == 201, booked.body
    visit = booked.data
    assert (visit["start"], visit["end"]) == (at(9), at(10))
    office = shop.owner
    job = office.get(f"/jobs/{visit['job_id']}").data
    assert (job["stage"], job["source"], job["title"]) == (
        "scheduled",
        "online_booking",
        "Drain cleaning",
    )
    stored = office.get(f"/jobs/{visit['job_id']}/visits/{visit['visit_id']}").data
    assert stored["technician_ids"] == [shop.tech["id"]] and stored["status"] == "scheduled"
    assert office.get(f"/customers/{visit['customer_id']}").data["phone"] == "+13125550142"
    board = office.get(f"/dispatch/board?date={DAY.isoformat()}").data
    on_board = [v for t in board["technicians"] for v in t["visits"]]
    assert [(v["id"], v["job"]["source"]) for v in on_board] == [
        (visit["visit_id"], "online_booking")
    ]
    # And the customer is texted the visit's link
    text = office.get("/dev/outbox?to=%2B13125550142").data["items"][0]["body"]
    assert visit["visit_url"] in text and "Acme Plumbing" in text

    # And the hour, with the 15-minute travel buffer after it, is no longer offered
    assert [s["start"] for s in shop.slots()] == [at(10, 30), at(11)]

    # When the same phone books again, it is the same customer
    again = shop.book(at(11), customer(phone="312-555-0142", name="D. Whitfield"))
    assert again.status_code == 201, again.body
    assert again.data["customer_id"] == visit["customer_id"]


def test_a_taken_slot_is_409_slot_taken_with_the_next_free_slots(shop):
    assert shop.book(at(9)).status_code == 201
    taken = shop.book(at(9), customer(phone="(312) 555-0199"))
    assert taken.status_code == 409, taken.body
    assert taken.data["error"]["code"] == "slot_taken"
    assert [s["start"] for s in taken.data["error"]["details"][0]["next_slots"]] == [
        at(10, 30),
        at(11),
        at(9, day=DAY + timedelta(days=1)),
    ]


def test_times_the_shop_does_not_offer_are_refused(shop):
    for start in (at(8), at(9, 15), at(11, 30), at(10, day=DAY + timedelta(days=5))):
        refused = shop.book(start)
        assert (refused.status_code, refused.data["error"]["code"]) == (409, "slot_taken"), start


def test_an_address_outside_the_service_area_is_422(shop):
    refused = shop.book(at(9), customer(postal_code="60290"))
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "outside_service_area"


def test_skills_decide_which_services_have_slots(shop):
    gas = shop.item(name="Gas line check", price=9900, minutes=30, skills=("gas",))
    assert shop.slots(service_id=gas["id"]) == []


def test_the_horizon_and_a_page_turned_off(shop):
    far = DAY + timedelta(days=70)
    assert shop.slots(day=far) == []
    assert (
        shop.owner.call("PUT", "/settings/booking", shop.settings(enabled=False)).status_code == 200
    )
    public = shop.public()
    assert public.get(f"/public/booking/{shop.slug}").status_code == 404
    assert shop.book(at(9)).status_code == 404


def test_a_slug_belongs_to_one_business(shop, other_owner):
    taken = other_owner.call("PUT", "/settings/booking", shop.settings())
    assert taken.status_code == 409, taken.body
    assert taken.data["error"]["code"] == "slug_taken"
    # Once the first business moves to another slug, the old one is free
    assert (
        shop.owner.call(
            "PUT", "/settings/booking", shop.settings(slug=shop.slug + "-b")
        ).status_code
        == 200
    )
    assert other_owner.call("PUT", "/settings/booking", shop.settings()).status_code == 200
    assert other_owner.get("/settings/booking").data["slug"] == shop.slug


def test_only_the_owner_sets_booking_up(shop):
    office = shop.owner.as_role("office")
    assert office.call("PUT", "/settings/booking", shop.settings()).status_code == 403


def test_a_retried_booking_with_its_idempotency_key_books_once(shop):
    key = {"Idempotency-Key": f"book-{uuid.uuid4()}"}
    first = shop.book(at(9), headers=key)
    again = shop.book(at(9), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.data == first.data
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_one_phone_booking_again_and_again_is_429_with_retry_after(shop):
    unknown = {"service_id": "nope", "start": at(9), "customer": customer()}
    answers = [shop.public().post(f"/public/booking/{shop.slug}", unknown) for _ in range(6)]
    assert [a.status_code for a in answers] == [404] * 5 + [429]
    assert answers[-1].data["error"]["code"] == "rate_limited"
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600


def test_one_address_booking_for_many_phones_is_429(shop):
    statuses = []
    for n in range(21):
        body = {
            "service_id": "nope",
            "start": at(9),
            "customer": customer(phone=f"(312) 555-{n:04d}"),
        }
        statuses.append(shop.public().post(f"/public/booking/{shop.slug}", body).status_code)
    assert statuses == [404] * 20 + [429]


RACERS = 10


def test_ten_customers_racing_for_the_last_slot_one_gets_it(owner):
    # Given a plumber with one free hour: a single slot at 9:00
    shop = Shop(owner, shift=("09:00", "10:00"))
    assert [s["start"] for s in shop.slots()] == [at(9)]
    start_together = threading.Barrier(RACERS)

    def book(n: int):
        start_together.wait()
        return shop.book(at(9), customer(phone=f"(312) 555-01{n:02d}", name=f"Racer {n}"))

    # When ten customers book it at the same moment
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = list(pool.map(book, range(RACERS)))

    # Then exactly one gets it, and nine are told it is taken, with other times offered
    assert sorted(a.status_code for a in answers) == [201] + [409] * (RACERS - 1), [
        a.body for a in answers
    ]
    refused = [a.data["error"] for a in answers if a.status_code == 409]
    assert {e["code"] for e in refused} == {"slot_taken"}
    assert all(
        e["details"][0]["next_slots"][0]["start"] == at(9, day=DAY + timedelta(days=1))
        for e in refused
    )
    # And the plumber holds one visit that morning
    board = owner.get(f"/dispatch/board?date={DAY.isoformat()}").data
    assert sum(len(t["visits"]) for t in board["technicians"]) == 1
    assert shop.slots() == []


def test_the_booking_page_books_without_script(shop):
    # Every step is a plain link on the page (relative to /p/book/), then one form post
    page = f"/p/book/{shop.slug}"
    client = shop.owner.client.http

    def follow(href: str) -> str:
        answer = client.get(page + href)
        assert answer.status_code == 200, answer.body
        assert "script-src" not in answer.headers["Content-Security-Policy"]
        return answer.body.decode()

    services = follow("")
    assert "Drain cleaning" in services and "$129.00" in services
    href = re.search(r'href="(\?service=[^"]+)"', services).group(1)
    days = follow(html.unescape(href))
    monday = re.search(rf'href="([^"]+date={DAY.isoformat()})"', days).group(1)
    times = follow(html.unescape(monday))
    assert "9:00 AM" in times and "11:00 AM" in times
    first_time = re.search(r'href="([^"]+start=[^"]+)"', times).group(1)
    details = follow(html.unescape(first_time))
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', details))
    form.update(name="Dana Whitfield", phone="(312) 555-0142", email="", line1="1 Main St")
    form.update(city="Chicago", region="IL", postal_code="60607")
    posted = client.post(
        page,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({k: html.unescape(v) for k, v in form.items()}),
    )
    assert posted.status_code == 303, posted.body
    assert posted.headers["Location"].startswith(f"{shop.slug}?done=")
    done = follow(posted.headers["Location"].removeprefix(shop.slug))
    assert "You're booked" in done and "9:00 AM-10:00 AM" in done
    # A second post of the same form finds the time taken, and goes back to that day's times
    again = client.post(
        page,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({k: html.unescape(v) for k, v in form.items()}),
    )
    assert again.status_code == 303 and "error=slot_taken" in again.headers["Location"]


def test_availability_reads_the_same_few_items_however_booked_the_day_is(shop):
    from bench import ddbcalls

    def calls() -> dict[str, int]:
        with ddbcalls.counting() as counted:
            shop.slots()
        return dict(counted)

    empty = calls()
    for n, hour in enumerate((9, 11)):
        assert shop.book(at(hour), customer(phone=f"(312) 555-02{n:02d}")).status_code == 201
    booked = calls()
    # The slug's owner, the tenant, the service, the technicians (one Query), their days (one
    # BatchGetItem): no Scan, and nothing read per visit
    assert booked == empty
    assert set(empty) <= {"GetItem", "Query", "BatchGetItem"}
    assert sum(empty.values()) <= 6, empty
