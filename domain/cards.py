"""Recognising card numbers, so none is ever accepted, stored or logged."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# A run of 13-19 digits, optionally grouped by single spaces or dashes, that is not
# part of a longer digit run (long tracking numbers are not cards).
_CANDIDATE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a card-number-shaped, Luhn-valid run of digits."""
    return any(
        _luhn_valid(re.sub(r"[ -]", "", match.group())) for match in _CANDIDATE.finditer(text)
    )


def card_expired(exp_month: int, exp_year: int, now: datetime) -> bool:
    """Cards are valid through the last day of their expiry month."""
    first_invalid = datetime(exp_year + exp_month // 12, exp_month % 12 + 1, 1, tzinfo=UTC)
    return first_invalid <= now
