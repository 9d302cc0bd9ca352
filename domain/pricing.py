"""What an order costs, computed on the server from current product prices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.money import CurrencyMismatch, Money

FREE_SHIPPING_FROM = 5_000  # minor units: orders of 50.00 or more ship free
SHIPPING_FEE = 499
TAX_BASIS_POINTS = 800  # 8% of the subtotal


@dataclass(frozen=True, slots=True)
class Line:
    unit_price: Money
    quantity: int


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Money
    shipping: Money
    tax: Money
    total: Money


def price(lines: Sequence[Line]) -> Totals:
    """Subtotal, shipping, tax and total of ``lines``, all in one currency."""
    if not lines:
        raise ValueError("an order needs at least one line")
    currency = lines[0].unit_price.currency
    subtotal = Money.zero(currency)
    for line in lines:
        if line.quantity < 1:
            raise ValueError("quantities are positive")
        if line.unit_price.currency != currency:
            raise CurrencyMismatch(f"{currency} and {line.unit_price.currency}")
        subtotal = subtotal + line.unit_price.times(line.quantity)
    shipping = Money(0 if subtotal.amount_minor >= FREE_SHIPPING_FROM else SHIPPING_FEE, currency)
    tax = subtotal.percent(TAX_BASIS_POINTS)
    return Totals(subtotal=subtotal, shipping=shipping, tax=tax, total=subtotal + shipping + tax)
