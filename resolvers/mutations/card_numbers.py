"""The one rule for text a client sends with a mutation: never a card number.

A refusal names each offending field and never quotes the value, so the number goes
no further than this check: not into the answer, the database or the logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.cards import contains_card_number
from resolvers.mutations.outcome import ErrorCode, Refused, UserError

MESSAGE = "Card numbers are not accepted here."

TextField = tuple[Sequence[str], str | None]  # the input field's path, and what was sent


def refuse_card_numbers(fields: Iterable[TextField]) -> None:
    """Raises Refused (INVALID on every field holding a card number) if any does."""
    errors = [
        UserError(ErrorCode.INVALID, MESSAGE, tuple(path))
        for path, value in fields
        if value is not None and contains_card_number(value)
    ]
    if errors:
        raise Refused(errors)
