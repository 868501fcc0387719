"""Money is integer minor units with a currency. Tax is basis points, rounded half-even per line."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel

BPS = 10_000


class LineItem(BaseModel):
    description: str
    quantity: int = 1
    unit_price_cents: int
    taxable: bool = True
    # A line made from a price-book item names it and keeps its unit cost for job costing
    # (the office's eyes only); a line typed by hand has neither.
    item_id: str | None = None
    unit_cost_cents: int | None = None

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents


def tax_cents(amount_cents: int, rate_bps: int) -> int:
    """Tax on one line: exact decimal arithmetic, half-even to the cent (banker's rounding)."""
    exact = Decimal(amount_cents) * Decimal(rate_bps) / Decimal(BPS)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class Totals(BaseModel):
    subtotal_cents: int
    tax_cents: int
    total_cents: int


def totals(lines: list[LineItem], rate_bps: int) -> Totals:
    subtotal = sum(line.amount_cents for line in lines)
    tax = sum(tax_cents(line.amount_cents, rate_bps) for line in lines if line.taxable)
    return Totals(subtotal_cents=subtotal, tax_cents=tax, total_cents=subtotal + tax)


def percent_of(amount_cents: int, percent: int) -> int:
    """A whole-percent share (a deposit), half-even to the cent."""
    exact = Decimal(amount_cents) * Decimal(percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
