"""Refusals a client can act on: a code, a message and the input field at fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    NOT_RETURNABLE = "NOT_RETURNABLE"
    REFUND_FAILED = "REFUND_FAILED"


@dataclass(frozen=True, slots=True)
class UserError:
    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class Refused(Exception):
    """The use-case changed nothing and says why."""

    def __init__(self, errors: Sequence[UserError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)

    @classmethod
    def one(cls, code: ErrorCode, message: str, *field: str) -> Refused:
        return cls([UserError(code, message, tuple(field) or None)])


def not_found(what: str, *field: str) -> Refused:
    """The same answer for missing and for someone else's, so ids reveal nothing."""
    return Refused.one(ErrorCode.NOT_FOUND, f"No such {what}.", *field)
