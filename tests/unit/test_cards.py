"""Card rules: numbers are recognised (so refused), expiry is end of month."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.cards import card_expired, contains_card_number


@pytest.mark.parametrize(
    "text",
    ["4242424242424242", "4242 4242 4242 4242", "5555-5555-5555-4444", "card 378282246310005 ok"],
)
def test_card_numbers_are_recognised(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    ["tok_visa", "4242424242424241", "OC-2026-000123", "9400111899223197428490", "1Z999AA1"],
)
def test_other_text_is_not_a_card_number(text: str) -> None:
    assert not contains_card_number(text)


@pytest.mark.parametrize(
    ("month", "year", "now", "expired"),
    [
        (5, 2026, datetime(2026, 5, 31, 23, 59, tzinfo=UTC), False),
        (5, 2026, datetime(2026, 6, 1, tzinfo=UTC), True),
        (12, 2026, datetime(2026, 12, 31, 23, 59, tzinfo=UTC), False),
        (12, 2026, datetime(2027, 1, 1, tzinfo=UTC), True),
    ],
)
def test_cards_are_valid_through_their_expiry_month(
    month: int, year: int, now: datetime, expired: bool
) -> None:
    assert card_expired(month, year, now) is expired
