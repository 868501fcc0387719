"""Phone numbers are stored E.164, parsed by phonenumbers in the tenant's region."""

from __future__ import annotations

import phonenumbers

from chalicelib.domain.errors import BadRequest


def to_e164(raw: str, default_region: str = "US") -> str:
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise BadRequest(f"phone number '{raw}' cannot be parsed", code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise BadRequest(f"phone number '{raw}' is not a possible number", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_prefix(query: str, default_region: str = "US") -> str | None:
    """The E.164 prefix a partial phone query stands for, or None if it is not a phone query."""
    compact = "".join(ch for ch in query if ch not in " -().")
    digits = compact.removeprefix("+")
    if not digits.isdigit():
        return None
    if compact.startswith("+"):
        return compact
    country_code = phonenumbers.country_code_for_region(default_region)
    return f"+{country_code}{digits}"
