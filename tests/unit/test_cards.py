"""Card rules: numbers are recognised however written (so refused), ordinary text is
not mistaken for one, and expiry is end of month."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.cards import card_expired, contains_card_number, normalise
from tests.card_forms import (
    CardForm,
    card_forms,
    luhn_check_digit,
    luhn_numbers,
    written_in,
)

VISA = "4111111111111111"

# The forms of the security review, and their relatives.
SPELLED = [
    "4111111111111111",
    "4242 4242 4242 4242",
    "5555-5555-5555-4444",
    "card 378282246310005 ok",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111_1111_1111_1111",
    "4111  1111  1111  1111",
    "4111\u00a01111\u00a01111\u00a01111",
    "4111\u200b1111\u200b1111\u200b1111",
    "4111 - 1111 - 1111 - 1111",
    "4111\u200b \u200b1111 1111 1111",
    "tok_4111.1111.1111.1111",
    "tok_4111111111111111",
    "3782-822463-10005",
    "3782 822463 10005",
    "6011 0009 9013 9424",  # Discover
    "4222222222222",  # 13 digits
    "6304 0000 0000 0000 018",  # 19 digits (Maestro)
    written_in("4111111111111111", 0xFF10),  # fullwidth
    written_in("4111 1111 1111 1111", 0x0660),  # Arabic-Indic
    written_in("4111-1111-1111-1111", 0x06F0),  # Persian
    written_in("4111 1111 1111 1111", 0x0966),  # Devanagari
    written_in("4111 1111 1111 1111", 0x1D7CE),  # mathematical bold
    "4111\u00ad1111\u00ad1111\u00ad1111",  # soft hyphens
    "4111\n1111\n1111\n1111",
    "4\u03011\u030111111111111111",  # combining marks between digits
    # Next to other numbers: the card's own groups are found within the longer chain.
    "4111 1111 1111 1111, 12/30",
    "exp 12/30 - 4111 1111 1111 1111 - cvv 123",
    "order 12: 4111-1111-1111-1111",
    # A UUID next to a card does not hide it.
    "4111 1111 1111 1111 9b2f6c1e-7d4a-4c3b-9a1e-0f2d3c4b5a69",
]


@pytest.mark.parametrize("text", SPELLED)
def test_card_numbers_are_recognised_however_written(text: str) -> None:
    assert contains_card_number(text)


def _uuid4s(count: int) -> list[str]:
    rng = random.Random(20261126)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


ORDINARY = [
    "tok_visa",
    "tok_mastercard",
    "tok_amex",
    "tok_chargeDeclined",
    "tok_processingError",
    "tok_expiredCard",
    "4242424242424241",  # one digit off: fails Luhn
    "4111 1111 1111 1112",
    "OC-2026-000123",
    "9400111899223197428490",  # USPS, 22 digits: longer runs are not cards
    "1Z999AA10123456784",  # UPS: letters split it
    "1Z999AA1",
    "JD014600006281234567",  # DHL Express
    "420902109400111899223197428490",  # USPS with ZIP routing prefix
    "1 Main St",
    "1600 Amphitheatre Parkway",
    "221B Baker Street, Flat 3",
    "Apt 4, Unit 12-34",
    "62701",
    "SW1A 1AA",
    "10115",
    "100-0005",
    "+1 217 555 0100",
    "+44 20 7946 0958",
    "(217) 555-0100 ext. 1234",
    "vid_123",
    "vid_0a1b2c3d",
    "dQw4w9WgXcQ",
    "9b2f6c1e-checkout-1",
    "checkout-2026-11-26T10:15:00Z",
    "UHJvZHVjdDox",  # a global id
    "T3JkZXI6MTIzNDU2",
    "Picked up at dock 4",
    "Leave at the door, code 1234#",
    "Delivered 2026-11-26 14:03",
    "",
    "   ",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_a_card_number(text: str) -> None:
    assert not contains_card_number(text)


def test_uuids_are_not_card_numbers() -> None:
    # About 1 in 350 random UUIDs holds a Luhn-valid 13-19 digit stretch between its
    # letters; as idempotency keys they must never be refused for it.
    for key in _uuids_and_hex(5000):
        assert not contains_card_number(key), key


def _uuids_and_hex(count: int) -> list[str]:
    keys = _uuid4s(count)
    return [
        *keys,
        *(k.upper() for k in keys[:500]),
        *(k.replace("-", "") for k in keys[:500]),
        *(f"checkout-{k}" for k in keys[:500]),
        *(f"{k}:retry-2" for k in keys[:500]),
    ]


def test_identifiers_hide_no_card_number_beside_them() -> None:
    for key in _uuid4s(50):
        assert contains_card_number(f"{key} {VISA}")
        assert contains_card_number(f"{VISA}-{key}")
    # A number written in UUID shape but all digits is read as numbers.
    assert contains_card_number("41111111-1111-1111-0000-000000000000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\uff14\uff12", "42"),  # fullwidth, by NFKC
        (written_in("42", 0x0660), "42"),  # Arabic-Indic: NFKC keeps them, decimal() maps
        (written_in("42", 0x0966), "42"),  # Devanagari
        ("tok_visa", "tok_visa"),
        ("\u00bd", "1\u20442"),  # a vulgar fraction is NFKC's, not a decimal digit
    ],
)
def test_normalise_reads_every_script_s_digits(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_long_digit_runs_are_not_cards_even_if_luhn_valid() -> None:
    for length in (20, 22, 30):
        body = "4" * (length - 1)
        assert not contains_card_number(body + luhn_check_digit(body))
    # The same digits written as a card and a PIN: the card is a group of its own.
    assert not contains_card_number(VISA + "1234")
    assert contains_card_number(VISA + " 1234")


@given(number=luhn_numbers())
@settings(max_examples=100, deadline=None)
def test_every_luhn_valid_13_to_19_digit_number_is_a_card(number: str) -> None:
    assert contains_card_number(number)
    last = int(number[-1])
    assert not contains_card_number(number[:-1] + str((last + 1) % 10))


@given(form=card_forms())
@settings(max_examples=300, deadline=None)
def test_card_numbers_are_recognised_in_any_form(form: CardForm) -> None:
    assert contains_card_number(form.text)


@given(form=card_forms(embedded=False), words=st.text(alphabet="abcdefghijklm xyz", max_size=8))
@settings(max_examples=100, deadline=None)
def test_card_numbers_are_recognised_among_letters(form: CardForm, words: str) -> None:
    assert contains_card_number(f"{words}x{form.text}y{words}")


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
