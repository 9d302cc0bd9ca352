"""Money: integer minor units, one currency, exact decimals, half-up percentages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.money import CurrencyMismatch, Money, minor_unit_exponent


def test_addition_and_subtraction_stay_in_minor_units() -> None:
    assert Money(1999, "USD") + Money(1, "USD") == Money(2000, "USD")
    assert Money(1999, "USD") - Money(2000, "USD") == Money(-1, "USD")
    assert Money(10, "USD") + Money.zero("USD") == Money(10, "USD")
    total = sum((Money(10, "USD") for _ in range(10)), Money.zero("USD"))
    assert total == Money(100, "USD")
    assert isinstance(total.amount_minor, int)


def test_times_multiplies_by_a_quantity() -> None:
    assert Money(1999, "USD").times(3) == Money(5997, "USD")
    assert Money(1999, "USD").times(0) == Money(0, "USD")


@pytest.mark.parametrize("op", ["add", "sub"])
def test_arithmetic_across_currencies_raises(op: str) -> None:
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    with pytest.raises(CurrencyMismatch, match="USD and EUR"):
        _ = usd + eur if op == "add" else usd - eur
    assert issubclass(CurrencyMismatch, ValueError)


def test_money_is_immutable_and_compares_by_value() -> None:
    money = Money(1, "USD")
    with pytest.raises(AttributeError):
        money.amount_minor = 2  # type: ignore[misc]
    assert Money(1, "USD") != Money(1, "EUR")
    assert hash(Money(1, "USD")) == hash(Money(1, "USD"))


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1999, "USD", "19.99"),
        (0, "USD", "0.00"),
        (5, "USD", "0.05"),
        (-1999, "USD", "-19.99"),
        (100, "USD", "1.00"),
        (1999, "JPY", "1999"),
        (0, "JPY", "0"),
        (1999, "KWD", "1.999"),
        (5, "KWD", "0.005"),
        (0, "KWD", "0.000"),
        (123456789012345, "USD", "1234567890123.45"),
    ],
)
def test_decimal_amount_is_exact(minor: int, currency: str, text: str) -> None:
    amount = Money(minor, currency).decimal_amount
    assert isinstance(amount, Decimal)
    assert str(amount) == text
    assert amount == Decimal(text)
    assert amount.as_tuple().exponent == Decimal(text).as_tuple().exponent


def test_minor_unit_exponents() -> None:
    assert minor_unit_exponent("USD") == 2
    assert minor_unit_exponent("EUR") == 2
    assert minor_unit_exponent("JPY") == 0
    assert minor_unit_exponent("KWD") == 3
    assert minor_unit_exponent("jpy") == 0


@pytest.mark.parametrize(
    ("minor", "basis_points", "expected"),
    [
        (10_000, 800, 800),  # 8% of 100.00
        (1999, 800, 160),  # 159.92 -> 160
        (1, 5000, 1),  # 0.5 -> 1 (half up)
        (1, 4999, 0),  # 0.4999 -> 0
        (3, 5000, 2),  # 1.5 -> 2
        (5, 1000, 1),  # 0.5 -> 1
        (4, 1000, 0),  # 0.4 -> 0
        (-1, 5000, -1),  # -0.5 -> -1 (half away from zero)
        (-3, 5000, -2),  # -1.5 -> -2
        (-4, 1000, 0),  # -0.4 -> 0
        (-1999, 800, -160),
        (1999, -800, -160),
        (0, 800, 0),
        (1999, 0, 0),
        (1999, 10_000, 1999),
    ],
)
def test_percent_rounds_half_up(minor: int, basis_points: int, expected: int) -> None:
    result = Money(minor, "USD").percent(basis_points)
    assert result == Money(expected, "USD")
    assert isinstance(result.amount_minor, int)


@pytest.mark.parametrize("amount", [19.99, 20.0, True, False, Decimal("19.99"), "1999", None])
def test_non_integer_amounts_are_rejected(amount: Any) -> None:
    with pytest.raises(TypeError, match="integers of minor units"):
        Money(amount, "USD")


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "", "U5D", "US ", "Usd", "€€€", "ÄÖÜ"])
def test_bad_currency_codes_are_rejected(currency: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 4217 currency code"):
        Money(100, currency)
