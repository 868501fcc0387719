"""The tenant's records as JSON Lines: portability (moving elsewhere) and audits.

The first line describes the export; each next one is a stored record. A secret (a webhook
subscription's signing secret) is written as "[redacted]": it was shown once, and an export
is a file that travels.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import Invalid
from chalicelib.store import exports as store

FORMAT = "fieldline.export/1"
# One answer of a Lambda function carries at most 6 MB (synchronous invoke): a larger export
# is refused in words rather than failed by the gateway.
MAX_BYTES = 5_500_000
REDACTED = "[redacted]"


def tenant_export(caller: Caller) -> str:
    lines = [
        _line(
            {
                "type": "export",
                "format": FORMAT,
                "tenant_id": caller.tenant_id,
                "exported_at": clock.now().isoformat(),
            }
        )
    ]
    size = len(lines[0])
    for item in store.tenant_items(caller.tenant_id):
        line = _line(_redacted(store.as_record(item)))
        size += len(line)
        if size > MAX_BYTES:
            raise Invalid(
                f"the business's records are more than one answer carries ({MAX_BYTES} bytes)",
                code="export_too_large",
            )
        lines.append(line)
    return "".join(lines)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_number, ensure_ascii=False, separators=(",", ":")) + "\n"


def _number(value: Any) -> Any:
    """DynamoDB's numbers come back as Decimal: whole ones as int, others as float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if "secret" in k.lower() and v else _redacted(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value
