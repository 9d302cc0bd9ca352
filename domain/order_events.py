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


class EventSubject(StrEnum):
    """The row an event's ``subject_id`` names."""

    SCAN = "SCAN"  # a shipment_events row
    PAYMENT = "PAYMENT"  # a payments row: a charge or a refund
    RETURN = "RETURN"  # a returns row
    REVIEW = "REVIEW"  # a reviews row


# Each kind once, with what it is about; None: the order itself (no subject_id).
SUBJECT_OF: dict[OrderEventKind, EventSubject | None] = {
    OrderEventKind.STATUS_CHANGED: None,
    OrderEventKind.CARRIER_SCAN: EventSubject.SCAN,
    OrderEventKind.PAYMENT_CAPTURED: EventSubject.PAYMENT,
    OrderEventKind.PAYMENT_FAILED: EventSubject.PAYMENT,
    OrderEventKind.REFUNDED: EventSubject.PAYMENT,
    OrderEventKind.RETURN_REQUESTED: EventSubject.RETURN,
    OrderEventKind.RETURN_APPROVED: EventSubject.RETURN,
    OrderEventKind.RETURN_REJECTED: EventSubject.RETURN,
    OrderEventKind.RETURN_SHIPPED: EventSubject.RETURN,
    OrderEventKind.RETURN_RECEIVED: EventSubject.RETURN,
    OrderEventKind.RETURN_REFUNDED: EventSubject.RETURN,
    OrderEventKind.RETURN_CANCELLED: EventSubject.RETURN,
    OrderEventKind.REVIEW_POSTED: EventSubject.REVIEW,
    OrderEventKind.REVIEW_EDITED: EventSubject.REVIEW,
}


def kinds_about(subject: EventSubject | None) -> frozenset[str]:
    """The kinds whose ``subject_id`` names a ``subject`` row (None: the order's own)."""
    return frozenset(kind.value for kind, about in SUBJECT_OF.items() if about is subject)


# What `orderStatusChanged` follows; `orderUpdated` follows every kind.
STATUS_CHANGES: frozenset[str] = frozenset({OrderEventKind.STATUS_CHANGED.value})
SCAN_EVENTS: frozenset[str] = kinds_about(EventSubject.SCAN)
PAYMENT_EVENTS: frozenset[str] = kinds_about(EventSubject.PAYMENT)
RETURN_EVENTS: frozenset[str] = kinds_about(EventSubject.RETURN)
REVIEW_EVENTS: frozenset[str] = kinds_about(EventSubject.REVIEW)

# The kind a payments row records, by the payment's status: what a charge or a refund
# records.
PAYMENT_EVENT_KINDS: dict[str, OrderEventKind] = {
    "CAPTURED": OrderEventKind.PAYMENT_CAPTURED,
    "FAILED": OrderEventKind.PAYMENT_FAILED,
    "REFUNDED": OrderEventKind.REFUNDED,
}


def payment_event_kind(payment_status: str) -> OrderEventKind:
    """The kind of event a payments row of this status records."""
    try:
        return PAYMENT_EVENT_KINDS[payment_status]
    except KeyError:
        raise ValueError(f"a {payment_status} payment records no order event") from None
