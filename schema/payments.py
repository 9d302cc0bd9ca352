"""Payments and saved payment methods: visible to their buyer (and the order's seller)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.models import Order as OrderRow
from db.models import Payment as PaymentRow
from db.models import PaymentMethod as PaymentMethodRow
from resolvers import policy
from schema.common import Money, Node, global_id, loaded
from schema.enums import PaymentStatus

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.orders import Order


@strawberry.type(description="A saved card, stored as the processor's token.")
class PaymentMethod(Node):
    brand: str = strawberry.field(description="Card brand, e.g. 'visa'.")
    last4: str = strawberry.field(description="Last four digits of the card.")
    exp_month: int = strawberry.field(description="Expiry month, 1 to 12.")
    exp_year: int = strawberry.field(description="Expiry year, four digits.")
    is_default: bool = strawberry.field(description="Used when no method is chosen.")

    @classmethod
    def from_row(cls, row: PaymentMethodRow) -> PaymentMethod:
        return cls(
            id=global_id("PaymentMethod", row),
            brand=row.brand,
            last4=row.last4,
            exp_month=row.exp_month,
            exp_year=row.exp_year,
            is_default=row.is_default,
        )


@strawberry.type(description="One attempt to take, or give back, money for an order.")
class Payment(Node):
    amount: Money = strawberry.field(description="How much.")
    status: PaymentStatus = strawberry.field(description="Where the attempt stands.")
    created_at: datetime = strawberry.field(description="When it was attempted.")
    row: strawberry.Private[PaymentRow]

    @classmethod
    def from_row(cls, row: PaymentRow) -> Payment:
        return cls(
            id=global_id("Payment", row),
            amount=Money.of(row.amount_minor, row.currency),
            status=PaymentStatus(row.status),
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The order it pays for.")
    @loaded("order_by_id", key=lambda payment: payment.row.order_id)
    def order(self, row: OrderRow) -> Annotated[Order, strawberry.lazy("schema.orders")]:
        from schema.orders import Order

        return Order.from_row(row)

    @strawberry.field(
        description="The card used; null if it was not a saved card or is not the viewer's."
    )
    @loaded(
        "payment_method_by_id",
        key=lambda payment: payment.row.payment_method_id,
        with_context=True,
    )
    def method(self, row: PaymentMethodRow | None, context: Context) -> PaymentMethod | None:
        # The seller sees the payment, never the buyer's card.
        if row is None or not policy.owns(context.viewer_id, row):
            return None
        return PaymentMethod.from_row(row)
