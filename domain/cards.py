"""Recognising card numbers, so none is ever accepted, stored or logged.

People write a card number in many ways: in one run, in groups split by spaces,
dashes, dots, slashes, underscores, ' - ', NBSP or zero-width spaces, in fullwidth
or another script's digits, inside a sentence. So the text is first read as a
person reads it: NFKC, every script's decimal digits as ASCII digits, and every
character that is neither a letter nor a digit taken for a separator. Letters
still end a number, so "1Z999AA10123456784" is three numbers, none card-sized.

Digit groups joined only by separators form one chain (the run of digits the
text holds once the separators are dropped). Every stretch of whole groups of a
chain that holds 13 to 19 digits is a candidate, the whole chain included: a card
typed next to other numbers ("12/30, 4111 1111 1111 1111") is still found. A
single group of more than 19 digits is no card (long tracking numbers). A
candidate is a card number when it passes Luhn.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime

MIN_DIGITS = 13
MAX_DIGITS = 19

# Machine identifiers: a canonical UUID, or 32+ hex characters (uuid4().hex, digests).
# Their hex digits fall into runs of 13+ digits far too often (about 1 in 500 random
# UUIDs would pass as a card), and no one writes a card number as one. Only ones with a
# hex letter qualify, so a number written in UUID shape is still read as a number.
_IDENTIFIER = re.compile(
    r"(?<![0-9a-z])"
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,})"
    r"(?![0-9a-z])",
    re.IGNORECASE,
)
_HEX_LETTER = re.compile(r"[a-f]", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFKC, with every script's decimal digits (Arabic-Indic, Devanagari...) as ASCII."""
    return "".join(_ascii_digit(char) for char in unicodedata.normalize("NFKC", text))


def _ascii_digit(char: str) -> str:
    if char.isascii():
        return char
    digit = unicodedata.decimal(char, None)
    return char if digit is None else str(digit)


def _without_identifiers(text: str) -> str:
    # A letter in its place: an identifier ends any number next to it, as a word would.
    return _IDENTIFIER.sub(
        lambda match: "x" if _HEX_LETTER.search(match.group()) else match.group(), text
    )


def _chains(text: str) -> Iterator[list[str]]:
    """The digit groups of ``text`` (normalised), chained while only separators lie between."""
    chain: list[str] = []
    group: list[str] = []
    for char in text:
        if "0" <= char <= "9":
            group.append(char)
            continue
        if group:
            chain.append("".join(group))
            group = []
        if char.isalnum():
            if chain:
                yield chain
            chain = []
    if group:
        chain.append("".join(group))
    if chain:
        yield chain


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


def _candidates(chain: list[str]) -> Iterator[str]:
    """Each stretch of whole groups holding MIN_DIGITS to MAX_DIGITS digits."""
    for start in range(len(chain)):
        length = 0
        for end in range(start, len(chain)):
            length += len(chain[end])
            if length > MAX_DIGITS:
                break
            if length >= MIN_DIGITS:
                yield "".join(chain[start : end + 1])


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a card-number-shaped, Luhn-valid number, however written."""
    readable = _without_identifiers(normalise(text))
    return any(
        _luhn_valid(candidate) for chain in _chains(readable) for candidate in _candidates(chain)
    )


def card_expired(exp_month: int, exp_year: int, now: datetime) -> bool:
    """Cards are valid through the last day of their expiry month."""
    first_invalid = datetime(exp_year + exp_month // 12, exp_month % 12 + 1, 1, tzinfo=UTC)
    return first_invalid <= now
