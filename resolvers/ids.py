"""Opaque Relay global ids: ``base64url("Type:123")`` without padding."""

from __future__ import annotations

import base64
import binascii

from resolvers.errors import InvalidArgument

NODE_TYPES = frozenset(
    {
        "User",
        "Shop",
        "Product",
        "Order",
        "OrderItem",
        "OrderEvent",
        "OrderReturn",
        "Payment",
        "PaymentMethod",
        "TaggedItem",
        "Recommendation",
        "Review",
    }
)


# Primary keys are 32-bit ``integer`` columns; a larger number names nothing, and
# binding it would fail the driver (and with it the whole batch it rode in).
MAX_PK = 2**31 - 1


def to_global_id(type_name: str, pk: int) -> str:
    raw = f"{type_name}:{pk}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def from_global_id(global_id: str, *, argument: str = "id") -> tuple[str, int]:
    """``(type_name, pk)`` of a global id; InvalidArgument for anything malformed."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        type_name, _, pk_text = raw.partition(":")
        pk = int(pk_text)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidArgument(f"{global_id!r} is not a valid id.", argument=argument) from None
    # Only the one spelling to_global_id produces: no junk characters, padding,
    # leading zeros or non-ASCII digits, so an object never has two ids.
    if (
        type_name not in NODE_TYPES
        or not 1 <= pk <= MAX_PK
        or to_global_id(type_name, pk) != global_id
    ):
        raise InvalidArgument(f"{global_id!r} is not a valid id.", argument=argument)
    return type_name, pk


def expect_global_id(global_id: str, type_name: str, *, argument: str = "id") -> int:
    """The primary key of a global id that must name a ``type_name``."""
    found, pk = from_global_id(global_id, argument=argument)
    if found != type_name:
        raise InvalidArgument(f"{global_id!r} is not a {type_name} id.", argument=argument)
    return pk
