"""Carrier webhooks, the pure part: signatures, the timestamp window, and what a scan does.

A carrier signs each delivery with its shared secret: ``X-Carrier-Signature`` is
``sha256=`` and the hex HMAC-SHA256 of ``"{timestamp}." + raw body``, where the
timestamp (Unix seconds) is also sent as ``X-Carrier-Timestamp``. Signing the timestamp
with the body is what makes the window hold: an old delivery cannot be given a fresh
timestamp without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from domain.order_status import OrderAction, OrderStatus

SIGNATURE_PREFIX = "sha256="


class ScanKind(StrEnum):
    """A carrier scan's kind (the API's ShipmentEventKind)."""

    LABEL_CREATED = "LABEL_CREATED"
    PICKED_UP = "PICKED_UP"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    DELAYED = "DELAYED"
    DELIVERED = "DELIVERED"


# Scans that say the parcel is with the carrier and moving.
_MOVING = frozenset(
    {
        ScanKind.PICKED_UP,
        ScanKind.IN_TRANSIT,
        ScanKind.OUT_FOR_DELIVERY,
        ScanKind.DELIVERY_ATTEMPTED,
        ScanKind.DELAYED,
    }
)


def actions_for_scan(status: OrderStatus, kind: ScanKind) -> tuple[OrderAction, ...]:
    """The order transitions (taken by the CARRIER) a scan of ``kind`` implies now.

    A scan never moves an order back: one that arrives late (an IN_TRANSIT scan after
    DELIVERED) is recorded on the shipment and changes no status. A DELIVERED scan of a
    parcel never scanned as picked up implies both steps, in order.
    """
    if kind is ScanKind.DELIVERED:
        if status is OrderStatus.AWAITING_COLLECTION:
            return (OrderAction.MARK_IN_TRANSIT, OrderAction.MARK_DELIVERED)
        if status is OrderStatus.IN_TRANSIT:
            return (OrderAction.MARK_DELIVERED,)
        return ()
    if kind in _MOVING and status is OrderStatus.AWAITING_COLLECTION:
        return (OrderAction.MARK_IN_TRANSIT,)
    return ()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Carrier-Signature`` value for a delivery."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the carrier's for this timestamp and body (constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())


def parse_timestamp(value: str) -> int | None:
    """Unix seconds from the header, or None when it is not a plain non-negative integer."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def timestamp_fresh(timestamp: int, now: float, tolerance_seconds: int) -> bool:
    """Within ``tolerance_seconds`` of now, either way (clocks drift both ways)."""
    return abs(now - timestamp) <= tolerance_seconds
