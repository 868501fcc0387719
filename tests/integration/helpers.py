"""Small helpers that keep integration tests reading like the journey they tell."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Api:
    """A tenant's view of the API through chalice.test.Client."""

    client: Any
    token: str
    tenant_id: str = ""
    owner_id: str = ""
    default_headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None):
        all_headers = {"Content-Type": "application/json", **self.default_headers}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        payload = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        response = self.client.http.request(method, path, headers=all_headers, body=payload or b"")
        # A CSV or a page is read from `body`; everything else the API answers is JSON.
        kind = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "json")
        media = kind.split(";")[0].strip()
        is_json = media in ("json", "application/json") or media.endswith("+json")  # not ndjson
        response.data = json.loads(response.body) if response.body and is_json else None
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def as_role(self, role: str, user_id: str | None = None) -> Api:
        body = {"tenant_id": self.tenant_id, "role": role}
        if user_id:
            body["user_id"] = user_id
        token = Api(self.client, "").post("/dev/tokens", body).data["token"]
        return Api(self.client, token, self.tenant_id, user_id or f"{role}-user")


def new_tenant(client, name: str = "Acme Plumbing", timezone: str = "America/Chicago") -> Api:
    created = Api(client, "").post("/dev/tenants", {"name": name, "timezone": timezone})
    assert created.status_code == 201, created.body
    data = created.data
    return Api(client, data["owner_token"], data["tenant_id"], data["owner_id"])


CUSTOMER = {
    "name": "Dana Whitfield",
    "phone": "(312) 555-0142",
    "email": "dana@example.com",
    "address": {
        "line1": "1200 W Fulton St",
        "city": "Chicago",
        "region": "IL",
        "postal_code": "60607",
        "lat": 41.8868,
        "lng": -87.6597,
    },
}


def a_technician_on(api: Api, job_id: str) -> Api:
    """A technician with a visit on the job (so the job is theirs to see), as that technician."""
    tech = api.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"}).data
    visit = api.post(
        f"/jobs/{job_id}/visits",
        {
            "window_start": "2030-06-03T09:00:00-05:00",
            "window_end": "2030-06-03T12:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert visit.status_code == 201, visit.body
    return api.as_role("technician", tech["id"])
