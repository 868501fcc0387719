"""The office's side of the journey over the local stage's JSON API, and the texts it sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chalicelib.config import LOCAL_SECRETS
from chalicelib.domain import links

LINK = re.compile(r"https?://\S+/p/(?:quotes|invoices|visits)/[\w.-]+")
DAY = "2030-06-03"  # a Monday; 09:00-12:00 in Chicago is inside a technician's default shift


def line(description: str, cents: int, quantity: int = 1, taxable: bool = True) -> dict:
    return {
        "description": description,
        "quantity": quantity,
        "unit_price_cents": cents,
        "taxable": taxable,
    }


THREE_OPTIONS = [
    {"name": "Good", "line_items": [line("Cartridge", 1999), line("Labour", 8500, taxable=False)]},
    {
        "name": "Better",
        "line_items": [line("Faucet", 14900), line("Labour", 8500, 2, taxable=False)],
    },
    {"name": "Best", "line_items": [line("Faucet", 32900), line("Labour", 8500, 2, taxable=False)]},
]


class Office:
    """One tenant's owner driving the stage's JSON API."""

    def __init__(self, stage, name: str = "Acme Plumbing"):
        self.stage = stage
        created = stage.call(
            "POST", "/dev/tenants", json={"name": name, "timezone": "America/Chicago"}
        )
        assert created.status_code == 201, created.text
        self.tenant_id = created.json()["tenant_id"]
        self.token = created.json()["owner_token"]
        settings = {"tax_rate_bps": 825, "phone": "(312) 555-0100"}
        assert self.patch("/settings", settings).status_code == 200

    def call(self, method: str, path: str, body: dict | None = None):
        return self.stage.call(method, path, self.token, json=body)

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.call("POST", path, body or {})
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    def patch(self, path: str, body: dict):
        return self.call("PATCH", path, body)

    def get(self, path: str) -> dict:
        response = self.call("GET", path)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    # --- the journey ---

    def lead(self, customer_name: str, phone: str, title: str) -> dict:
        customer = self.post("/customers", {"name": customer_name, "phone": phone})
        return self.post("/leads", {"customer_id": customer["id"], "title": title})

    def send_quote(self, job_id: str, options: list[dict] | None = None) -> dict:
        body = {"options": options or THREE_OPTIONS, "deposit_percent": 25}
        quote = self.post(f"/jobs/{job_id}/quotes", body)
        return self.post(f"/jobs/{job_id}/quotes/{quote['id']}/send")

    def send_final_invoice(self, job_id: str) -> dict:
        invoice = self.post(f"/jobs/{job_id}/invoices", {"kind": "final"})
        return self.post(f"/jobs/{job_id}/invoices/{invoice['id']}/send")

    def schedule_visit(self, job_id: str) -> dict:
        tech = self.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"})
        window = {"window_start": f"{DAY}T09:00:00-05:00", "window_end": f"{DAY}T12:00:00-05:00"}
        body = {**window, "duration_minutes": 60, "technician_ids": [tech["id"]]}
        return self.post(f"/jobs/{job_id}/visits", body)

    def latest_link(self, phone: str, kind: str) -> str:
        """The newest link of a kind ("quotes", "invoices") texted to a phone."""
        outbox = self.stage.call("GET", "/dev/outbox", params={"to": phone}).json()["items"]
        for text in outbox:
            for link in LINK.findall(text["body"]):
                if f"/p/{kind}/" in link:
                    return link
        raise AssertionError(f"no {kind} link texted to {phone}: {outbox}")

    def timeline(self, job_id: str) -> list[str]:
        return [e["type"] for e in self.get(f"/jobs/{job_id}/timeline")["items"]]


def signed_link(stage, kind: str, tenant_id: str, job_id: str, object_id: str, days: int) -> str:
    """A genuine link like the stage would text, valid for `days` (negative: expired). The
    stage signs with the local link secret (tests/e2e starts it without any FIELDLINE_ env)."""
    claims = links.LinkClaims(
        kind=kind,
        tenant_id=tenant_id,
        job_id=job_id,
        object_id=object_id,
        expires_at=datetime.now(UTC) + timedelta(days=days),
    )
    path = {"quote": "quotes", "invoice": "invoices", "visit": "visits"}[kind]
    return f"{stage.base}/p/{path}/{links.sign(claims, LOCAL_SECRETS['link_secret'])}"
