"""Free text a mutation stores: trimmed, bounded by its column's declared length."""

from __future__ import annotations

import pytest

from db.models import Order, Shipment
from resolvers.mutations import text_input
from resolvers.mutations.outcome import ErrorCode, Refused

FIELD = ("input", "carrier")


def refusal(value: str | None, *, required: bool) -> tuple[ErrorCode, str, tuple[str, ...] | None]:
    with pytest.raises(Refused) as refused:
        text_input.cleaned(value, 5, *FIELD, required=required)
    (error,) = refused.value.errors
    return error.code, error.message, error.field


def test_the_limits_are_the_columns_declared_lengths() -> None:
    assert text_input.CARRIER == Shipment.__table__.c.carrier.type.length == 64  # type: ignore[attr-defined]
    assert text_input.ADDRESS["postalCode"] == 20
    with pytest.raises(TypeError, match=r"Order\.id has no declared length"):
        text_input.length_of(Order, "id")


def test_text_is_trimmed_and_blank_is_absent_unless_required() -> None:
    assert text_input.cleaned("  UPS  ", 5, *FIELD) == "UPS"
    assert text_input.cleaned("12345", 5, *FIELD) == "12345"  # the limit itself is in
    assert text_input.cleaned("   ", 5, *FIELD) is None
    assert text_input.cleaned(None, 5, *FIELD) is None
    assert refusal("   ", required=True) == (ErrorCode.INVALID, "1 to 5 characters.", FIELD)
    assert refusal(None, required=True) == (ErrorCode.INVALID, "1 to 5 characters.", FIELD)
    assert text_input.required(" a ", 5, *FIELD) == "a"


def test_text_over_the_limit_is_refused_at_its_field() -> None:
    assert refusal("123456", required=False) == (ErrorCode.INVALID, "At most 5 characters.", FIELD)
    assert refusal(" 123456 ", required=True)[1] == "At most 5 characters."
    (error,) = text_input.too_long("123456", 5, *FIELD)
    assert (error.code, error.message, error.field) == (
        ErrorCode.INVALID,
        "At most 5 characters.",
        FIELD,
    )
    assert text_input.too_long("12345", 5, *FIELD) == []
    assert text_input.too_long(None, 5, *FIELD) == []
