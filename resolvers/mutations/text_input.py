"""Free text a mutation stores: its limit is its column's length, declared once in
db.models, and both the check here and the schema's descriptions read it there."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlmodel import SQLModel

from db.models import Order, OrderEvent, OrderItem, OrderReturn, Shipment, TaggedItem
from resolvers.mutations.outcome import ErrorCode, Refused, UserError


def length_of(model: type[SQLModel], column: str) -> int:
    """The declared length of a model's string column."""
    length = getattr(inspect(model).columns[column].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{model.__name__}.{column} has no declared length")
    return length


CARRIER = length_of(Shipment, "carrier")
TRACKING_NUMBER = length_of(Shipment, "tracking_number")
STATUS_NOTE = length_of(OrderEvent, "note")
RETURN_NOTE = length_of(OrderReturn, "note")
REJECT_REASON = length_of(OrderReturn, "reject_reason")
RETURN_CARRIER = length_of(OrderReturn, "carrier")
RETURN_TRACKING_NUMBER = length_of(OrderReturn, "tracking_number")
VIDEO_ID = length_of(TaggedItem, "source_video_id")
LINE_VIDEO_ID = length_of(OrderItem, "source_video_id")
# Shipping address: the input's field name -> its column's length.
ADDRESS = {
    name: length_of(Order, f"ship_{snake}")
    for name, snake in {
        "name": "name",
        "line1": "line1",
        "line2": "line2",
        "city": "city",
        "region": "region",
        "postalCode": "postal_code",
        "phone": "phone",
    }.items()
}


def cleaned(value: str | None, limit: int, *field: str, required: bool = False) -> str | None:
    """``value`` stripped, as stored; None when blank and not ``required``. Refused
    (INVALID, at ``field``) when blank and required, or longer than ``limit``."""
    text = None if value is None else value.strip()
    if not text:
        if required:
            raise Refused.one(ErrorCode.INVALID, f"1 to {limit} characters.", *field)
        return None
    if len(text) > limit:
        raise Refused.one(ErrorCode.INVALID, f"At most {limit} characters.", *field)
    return text


def required(value: str, limit: int, *field: str) -> str:
    """``cleaned`` of a text that must not be blank."""
    text = cleaned(value, limit, *field, required=True)
    if text is None:  # cleaned refuses a blank required text; this says so to mypy
        raise Refused.one(ErrorCode.INVALID, f"1 to {limit} characters.", *field)
    return text


def too_long(value: str | None, limit: int, *field: str) -> list[UserError]:
    """The error of a ``value`` over ``limit``, for validations that gather every error."""
    if value is not None and len(value) > limit:
        return [UserError(ErrorCode.INVALID, f"At most {limit} characters.", field)]
    return []
