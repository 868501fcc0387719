"""Small helpers that keep the workflow tests reading like the journey they tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.integrations.sms import OUTBOX
from tests.integration.helpers import CUSTOMER, Api


def given_scheduled_visit(owner: Api, start: str, title: str = "Furnace tune-up") -> tuple:
    """A job with a visit booked for a technician at `start` (RFC 3339, local offset)."""
    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"})
    assert tech.status_code == 201, tech.body
    job = owner.post("/leads", {"customer": CUSTOMER, "title": title})
    assert job.status_code == 201, job.body
    begin = datetime.fromisoformat(start)
    visit = owner.post(
        f"/jobs/{job.data['id']}/visits",
        {
            "window_start": start,
            "window_end": (begin + timedelta(hours=2)).isoformat(),
            "duration_minutes": 60,
            "technician_ids": [tech.data["id"]],
        },
    )
    assert visit.status_code == 201, visit.body
    assert visit.data["status"] == "scheduled"
    return job.data, visit.data


def move(owner: Api, job: dict, visit: dict, start: str) -> dict:
    begin = datetime.fromisoformat(start)
    moved = owner.post(
        f"/jobs/{job['id']}/visits/{visit['id']}/reschedule",
        {"window_start": start, "window_end": (begin + timedelta(hours=2)).isoformat()},
    )
    assert moved.status_code == 200, moved.body
    return moved.data


def texts(owner: Api, job_id: str, kind: str) -> list[dict]:
    """The texts of one kind the job's timeline records as sent."""
    events = owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]
    return [e for e in events if e["type"] == "MessageSent" and e["data"].get("kind") == kind]


def outbox_bodies(tenant_name: str) -> list[str]:
    """What the local outbox 'sent' for this tenant (its name is in every automated text)."""
    return [m["body"] for m in OUTBOX.read() if tenant_name in m["body"]]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
