"""Payments and saved payment methods: visible to their buyer (and the order's seller)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.models import Payment as PaymentRow
from db.models import PaymentMethod as PaymentMethodRow
from resolvers import policy
from schema.common import Money, Node, loaded, related
from schema.declared import FromRow, column, money
from schema.enums import PaymentStatus

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.orders import Order


@strawberry.type(description="A saved card, stored as the processor's token.")
class PaymentMethod(FromRow, Node):
    brand: str = column("brand", description="Card brand, e.g. 'visa'.")
    last4: str = column("last4", description="Last four digits of the card.")
    exp_month: int = column("exp_month", description="Expiry month, 1 to 12.")
    exp_year: int = column("exp_year", description="Expiry year, four digits.")
    is_default: bool = column("is_default", description="Used when no method is chosen.")
    row: strawberry.Private[PaymentMethodRow]


@strawberry.type(description="One attempt to take, or give back, money for an order.")
class Payment(FromRow, Node):
    amount: Money = money("amount_minor", description="How much.")
    status: PaymentStatus = column("status", description="Where the attempt stands.")
    created_at: datetime = column("created_at", description="When it was attempted.")
    order: Annotated[Order, strawberry.lazy("schema.orders")] = related(
        "order_by_id", key="order_id", description="The order it pays for."
    )
    row: strawberry.Private[PaymentRow]

    @strawberry.field(
        description="The card used; null if it was not a saved card or is not the viewer's."
    )
    @loaded(
        "payment_method_by_id",
        key="payment_method_id",
        with_context=True,
        sql="payment_method_of_viewer",
    )
    def method(self, row: PaymentMethodRow | None, context: Context) -> PaymentMethod | None:
        # The seller sees the payment, never the buyer's card.
        if row is None or not policy.owns(context.viewer_id, row):
            return None
        return PaymentMethod.from_row(row)
