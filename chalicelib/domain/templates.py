"""Per-tenant templates for every automated text, and what a text costs in SMS segments."""

from __future__ import annotations

from string import Formatter

from chalicelib.domain.errors import Invalid, NotFound

PLACEHOLDERS = {
    "first_name": "the customer's first name",
    "business_name": "the tenant's business name",
    "business_phone": "the tenant's phone number",
    "job_title": "the job's title",
    "visit_window": "the visit's window in local time, e.g. 'Tue Mar 10, 9:00 AM-11:00 AM'",
    "technician": "the technician's first name",
    "eta": "an arrival estimate, e.g. ', arriving in about 25 minutes' (may be empty)",
    "amount_due": "the balance with its currency, e.g. '$1,234.50'",
    "due_date": "the invoice's due date",
    "link": "the customer's link (quote, invoice or visit page)",
}

DEFAULTS = {
    "quote_link": "Hi {first_name}, {business_name} sent you a quote for {job_title}: {link}",
    "invoice_link": "Hi {first_name}, {business_name} sent your invoice for {job_title}: "
    "{amount_due} due {due_date}. Pay here: {link}",
    "on_my_way": "Hi {first_name}, {technician} from {business_name} is on the way{eta}.",
    "reminder": "Hi {first_name}, a reminder from {business_name}: we'll see you {visit_window}. "
    "Reply C to confirm. {link}",
    "dunning": "Hi {first_name}, a friendly reminder from {business_name}: {amount_due} is due "
    "{due_date}. Pay here: {link}",
    "visit_confirmed": "Thanks {first_name}, you're confirmed for {visit_window}.",
    "visit_moved": "Hi {first_name}, {business_name} has a new time for your visit: "
    "{visit_window}.",
    "booking_confirmed": "Hi {first_name}, {business_name} booked you for {visit_window}. "
    "Details or changes: {link}",
    "plan_payment_failed": "Hi {first_name}, {business_name} could not charge your card for "
    "{job_title} ({amount_due}). Update your card here: {link}",
    "plan_receipt": "Thanks {first_name}: {business_name} received {amount_due} for {job_title}. "
    "Your plan: {link}",
    "plan_renewal": "Hi {first_name}, your {job_title} plan with {business_name} renews on "
    "{due_date} for {amount_due}. To cancel: {link}",
    "card_setup": "Hi {first_name}, {business_name} asks you to keep a card on file for "
    "future payments. Add it here: {link}",
    "help": "{business_name}: call us at {business_phone}. Reply STOP to opt out.",
}


def placeholders_in(text: str) -> set[str]:
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(text)]
    except ValueError as exc:
        raise Invalid(f"the template is malformed: {exc}", code="invalid_template") from exc
    # A format spec is a resource bomb: "{first_name:x>99999999}" renders 100 MB from 30 bytes.
    if any(spec or conversion for name, spec, conversion in fields if name is not None):
        raise Invalid(
            "a placeholder takes no format or conversion: write {first_name}",
            code="invalid_template",
        )
    return {name for name, _, _ in fields if name is not None}


def validate(name: str, text: str) -> str:
    """Refuse an unknown template or placeholder when it is saved, not when a text goes out."""
    if name not in DEFAULTS:
        raise NotFound(f"there is no template named '{name}'")
    unknown = sorted(placeholders_in(text) - PLACEHOLDERS.keys())
    if unknown or any(not n.isidentifier() for n in placeholders_in(text)):
        raise Invalid(
            f"unknown placeholders: {', '.join(unknown)}",
            details=[{"placeholder": p} for p in unknown],
            code="unknown_placeholder",
        )
    return text


def render(name: str, custom: dict[str, str], values: dict[str, str]) -> str:
    text = custom.get(name) or DEFAULTS[name]
    return text.format_map({p: "" for p in PLACEHOLDERS} | values).strip()


# GSM 03.38: the basic set costs one septet, the extension table two (escape + char).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int]:
    """(encoding, segment count) as carriers bill a text: GSM-7 160/153, UCS-2 70/67."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else -(-units // 153)
    units = len(text.encode("utf-16-le")) // 2  # an emoji is two UTF-16 code units
    return "UCS-2", 1 if units <= 70 else -(-units // 67)
