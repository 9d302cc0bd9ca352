"""What an order event records: the kinds of things that happen to an order.

One table of events per order (``order_events``) holds them all, under one sequence of
ids, so a subscriber resumes every kind of change with one cursor, gap-free. A status
change moves the order from one status to another; every other kind leaves the status as
it was (its ``from_status`` and ``to_status`` are both the status at the time) and names
what it is about by ``subject_id`` (the shipment event, payment, return or review row).
"""

from __future__ import annotations

from enum import StrEnum


class OrderEventKind(StrEnum):
    STATUS_CHANGED = "STATUS_CHANGED"
    CARRIER_SCAN = "CARRIER_SCAN"
    PAYMENT_CAPTURED = "PAYMENT_CAPTURED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    REFUNDED = "REFUNDED"
    RETURN_REQUESTED = "RETURN_REQUESTED"
    RETURN_APPROVED = "RETURN_APPROVED"
    RETURN_REJECTED = "RETURN_REJECTED"
    RETURN_SHIPPED = "RETURN_SHIPPED"
    RETURN_RECEIVED = "RETURN_RECEIVED"
    RETURN_REFUNDED = "RETURN_REFUNDED"
    RETURN_CANCELLED = "RETURN_CANCELLED"
    REVIEW_POSTED = "REVIEW_POSTED"
    REVIEW_EDITED = "REVIEW_EDITED"


# What `orderStatusChanged` follows; `orderUpdated` follows every kind.
STATUS_CHANGES: frozenset[str] = frozenset({OrderEventKind.STATUS_CHANGED.value})

# The kinds whose subject is a payments row, by the payment's status: what a charge or
# a refund records.
PAYMENT_EVENT_KINDS: dict[str, OrderEventKind] = {
    "CAPTURED": OrderEventKind.PAYMENT_CAPTURED,
    "FAILED": OrderEventKind.PAYMENT_FAILED,
    "REFUNDED": OrderEventKind.REFUNDED,
}
PAYMENT_EVENTS: frozenset[str] = frozenset(kind.value for kind in PAYMENT_EVENT_KINDS.values())
# The kinds whose subject is a shipment_events row (a carrier scan).
SCAN_EVENTS: frozenset[str] = frozenset({OrderEventKind.CARRIER_SCAN.value})
RETURN_EVENTS: frozenset[str] = frozenset(
    kind.value for kind in OrderEventKind if kind.value.startswith("RETURN_")
)
REVIEW_EVENTS: frozenset[str] = frozenset(
    {OrderEventKind.REVIEW_POSTED.value, OrderEventKind.REVIEW_EDITED.value}
)


def payment_event_kind(payment_status: str) -> OrderEventKind:
    """The kind of event a payments row of this status records."""
    try:
        return PAYMENT_EVENT_KINDS[payment_status]
    except KeyError:
        raise ValueError(f"a {payment_status} payment records no order event") from None
