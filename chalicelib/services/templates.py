"""The tenant's text templates: save (validated) and preview (rendered, with its cost)."""

from __future__ import annotations

from chalicelib.domain import templates
from chalicelib.domain.callers import Caller
from chalicelib.services import tenants

SAMPLE = {
    "first_name": "Dana",
    "job_title": "Water heater leaking",
    "visit_window": "Tue Mar 10, 9:00 AM-11:00 AM",
    "technician": "Sam",
    "eta": ", arriving in about 25 minutes",
    "amount_due": "$1,234.50",
    "due_date": "Mon Mar 16",
    "link": "https://fieldline.example/p/i/abc123",
}


def save(caller: Caller, name: str, text: str, if_match: int | None) -> dict:
    templates.validate(name, text)
    current = tenants.get_settings(caller)
    updated = tenants.update_settings(
        caller, {"templates": {**current.templates, name: text}}, if_match
    )
    return {"name": name, "text": text, "version": updated.version}


def preview(caller: Caller, name: str, text: str | None) -> dict:
    tenant = tenants.get_settings(caller)
    if text is not None:
        templates.validate(name, text)
    custom = {**tenant.templates, **({name: text} if text is not None else {})}
    templates.validate(name, custom.get(name) or templates.DEFAULTS.get(name, ""))  # 404 if unknown
    values = {**SAMPLE, "business_name": tenant.name, "business_phone": tenant.phone or ""}
    rendered = templates.render(name, custom, values)
    encoding, count = templates.segments(rendered)
    return {
        "name": name,
        "text": rendered,
        "characters": len(rendered),
        "encoding": encoding,
        "segments": count,
    }


def list_all(caller: Caller) -> dict:
    tenant = tenants.get_settings(caller)
    return {
        "items": [
            {
                "name": name,
                "text": tenant.templates.get(name, default),
                "custom": name in tenant.templates,
            }
            for name, default in templates.DEFAULTS.items()
        ],
        "placeholders": templates.PLACEHOLDERS,
    }
