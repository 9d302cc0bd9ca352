"""Buy again: which of a buyer's orders count as having bought something.

An order the buyer paid for and did not get cancelled is a purchase; an unpaid order
is only an intention, and a cancelled one was refunded and restocked.
"""

from __future__ import annotations

from domain.order_status import OrderStatus

PURCHASED_STATUSES: tuple[OrderStatus, ...] = (
    OrderStatus.AWAITING_SHIPMENT,
    OrderStatus.AWAITING_COLLECTION,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
)


def counts_as_purchase(status: OrderStatus) -> bool:
    return status in PURCHASED_STATUSES
