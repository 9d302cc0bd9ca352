"""Returns as the buyer and the order's seller see them (domain.returns)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.models import OrderReturn as OrderReturnRow
from db.models import ReturnLine as ReturnLineRow
from schema.common import Money, Node, related
from schema.declared import FromRow, column, money
from schema.enums import ReturnReason, ReturnStatus

if TYPE_CHECKING:
    from schema.orders import Order, OrderItem


@strawberry.type(description="Units of one order line in a return.")
class ReturnLine(FromRow):
    quantity: int = column("quantity", description="How many units are returned.")
    unit_price: Money = money("unit_price_minor", description="Price of one, as ordered.")
    total: Money = money(
        "unit_price_minor", "quantity", description="unitPrice times quantity, before tax."
    )
    item: Annotated[OrderItem, strawberry.lazy("schema.orders")] = related(
        "order_item_by_id", key="order_item_id", description="The order line returned."
    )
    row: strawberry.Private[ReturnLineRow]


@strawberry.type(description="A buyer's return of some units of a delivered order, and its refund.")
class OrderReturn(FromRow, Node):
    status: ReturnStatus = column("status", description="Where the return stands.")
    reason: ReturnReason = column("reason", description="Why the buyer returns it.")
    note: str | None = column("note", description="The buyer's words, if any.")
    reject_reason: str | None = column(
        "reject_reason", description="Why the seller rejected it, when they did."
    )
    carrier: str | None = column("carrier", description="Carrier it was sent back with.")
    tracking_number: str | None = column(
        "tracking_number", description="Tracking number of the parcel sent back."
    )
    subtotal: Money = money("subtotal_minor", description="The returned lines' prices.")
    tax: Money = money(
        "tax_minor", description="The order's tax in proportion to the lines (rounded down)."
    )
    shipping_fee: Money = money(
        "shipping_minor",
        description="The order's shipping fee, refunded only by the return that completes "
        "the order (every unit returned); else zero.",
    )
    refund_total: Money = money(
        "total_minor",
        description="What it refunds: subtotal + tax + shippingFee. An estimate until "
        "REFUNDED, then what was paid back.",
    )
    refund_failure: str | None = column(
        "refund_failure",
        description="Why the last refund attempt failed, while it stays RECEIVED.",
    )
    requested_at: datetime = column("requested_at", description="When the buyer asked.")
    decided_at: datetime | None = column(
        "decided_at", description="When the seller approved or rejected it."
    )
    shipped_at: datetime | None = column("shipped_at", description="When it was sent back.")
    received_at: datetime | None = column("received_at", description="When the seller received it.")
    refunded_at: datetime | None = column("refunded_at", description="When it was refunded.")
    lines: list[ReturnLine] = related(
        "return_lines_by_return_id", key="id", description="What is returned."
    )
    order: Annotated[Order, strawberry.lazy("schema.orders")] = related(
        "order_by_id", key="order_id", description="The order it returns units of."
    )
    row: strawberry.Private[OrderReturnRow]
