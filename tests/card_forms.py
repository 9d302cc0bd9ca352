"""Card numbers as people (and pasting) write them: Hypothesis strategies for the tests.

A Luhn-valid number of 13 to 19 digits, split into groups by any separators, its
digits in any script, inside other text. The digits of the number itself (ASCII) come
along, so a test can look for them wherever the value might have gone.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from hypothesis import strategies as st

# What people put between digit groups, or what arrives with a paste: spaces of every
# width, NBSP, zero-width and other invisible format characters, punctuation.
SEPARATORS = (
    " ",
    "  ",
    "-",
    " - ",
    ".",
    "/",
    "_",
    ",",
    ":",
    "*",
    "|",
    "\t",
    "\n",
    "\u00a0",  # no-break space
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u2060",  # word joiner
    "\ufeff",  # zero-width no-break space
    "\u00ad",  # soft hyphen
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
    "\u2010",  # hyphen
    "\u2011",  # non-breaking hyphen
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u00b7",  # middle dot
    "\uff0d",  # fullwidth hyphen-minus
    "\u200b \u200b",
)

# The zero of each script's decimal digits: NFKC maps some to ASCII, the rest only
# unicodedata.decimal knows.
DIGIT_ZEROS = (
    0x30,  # ASCII
    0xFF10,  # fullwidth
    0x0660,  # Arabic-Indic
    0x06F0,  # Extended Arabic-Indic (Persian)
    0x0966,  # Devanagari
    0x09E6,  # Bengali
    0x0E50,  # Thai
    0x1040,  # Myanmar
    0x1D7CE,  # mathematical bold
    0x1D7F6,  # mathematical monospace
)


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body`` + it pass Luhn."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:  # doubled: these sit at odd positions once the check digit follows
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


@st.composite
def luhn_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    first = draw(st.sampled_from("123456789"))
    rest = draw(st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    return first + rest + luhn_check_digit(first + rest)


@st.composite
def group_sizes(draw: st.DrawFn, length: int) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < length:
        sizes.append(draw(st.integers(min_value=1, max_value=length - sum(sizes))))
    return sizes


@dataclass(frozen=True)
class CardForm:
    digits: str  # the number, ASCII digits only
    text: str  # how it was written


def _in_script(digit: str, zero: int) -> str:
    char = chr(zero + int(digit))
    assert unicodedata.decimal(char) == int(digit)
    return char


def written_in(text: str, zero: int) -> str:
    """``text`` with its ASCII digits in the script whose zero is ``zero``."""
    return "".join(_in_script(c, zero) if "0" <= c <= "9" else c for c in text)


# Words around the number; they end and start with a letter or a separator, never a
# digit glued to the number's own digits (that would be another, longer number).
_WORDS = st.text(
    alphabet=st.characters(
        categories=["Lu", "Ll", "Lo", "Nd", "Zs", "Po", "Pd"], exclude_characters="\x00"
    ),
    max_size=12,
)


@st.composite
def card_forms(draw: st.DrawFn, *, embedded: bool = True) -> CardForm:
    digits = draw(luhn_numbers())
    sizes = draw(group_sizes(len(digits)))
    script = draw(st.sampled_from(DIGIT_ZEROS))
    mixed = draw(st.booleans())
    chars = [_in_script(d, draw(st.sampled_from(DIGIT_ZEROS)) if mixed else script) for d in digits]
    groups: list[str] = []
    start = 0
    for size in sizes:
        groups.append("".join(chars[start : start + size]))
        start += size
    text = groups[0]
    for group in groups[1:]:
        text += draw(st.sampled_from(("", *SEPARATORS))) + group
    if embedded:
        before = draw(_WORDS)
        after = draw(_WORDS)
        text = before + draw(st.sampled_from(SEPARATORS)) + text
        text += draw(st.sampled_from(SEPARATORS)) + after
    return CardForm(digits, text)


def digits_of(text: str) -> str:
    """The ASCII digits ``text`` holds, in order, in whatever script it wrote them."""
    digits: list[str] = []
    for char in unicodedata.normalize("NFKC", text):
        value = unicodedata.decimal(char, None)
        if value is not None:
            digits.append(str(value))
    return "".join(digits)
