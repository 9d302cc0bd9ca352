"""Orders as the buyer (or the seller of the order's shop) sees them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import Order as OrderRow
from db.models import OrderEvent as OrderEventRow
from db.models import OrderItem as OrderItemRow
from db.models import Payment as PaymentRow
from db.models import Product as ProductRow
from db.models import Shipment as ShipmentRow
from db.models import ShipmentEvent as ShipmentEventRow
from db.models import Shop as ShopRow
from domain import order_status as rules
from resolvers import policy
from resolvers.subscriptions.cursors import event_cursor
from schema.catalog import Product, Shop
from schema.common import Address, Info, Money, Node, global_id, loaded, pk
from schema.enums import (
    CancelReason,
    EventActor,
    OrderAction,
    OrderPaymentStatus,
    OrderStatus,
    OrderTab,
    ShipmentEventKind,
)
from schema.payments import Payment


@strawberry.type(description="One line of an order, as it was when the order was placed.")
class OrderItem:
    id: strawberry.ID = strawberry.field(description="The line's global id.")
    title: str = strawberry.field(description="The product's title when ordered.")
    quantity: int = strawberry.field(description="How many.")
    unit_price: Money = strawberry.field(description="Price of one, when ordered.")
    total: Money = strawberry.field(description="unitPrice times quantity.")
    source_video_id: str | None = strawberry.field(
        description="The video the buyer bought it from, if any (creator attribution)."
    )
    row: strawberry.Private[OrderItemRow]

    @classmethod
    def from_row(cls, row: OrderItemRow) -> OrderItem:
        return cls(
            id=global_id("OrderItem", row),
            title=row.title,
            quantity=row.quantity,
            unit_price=Money.of(row.unit_price_minor, row.currency),
            total=Money.of(row.unit_price_minor * row.quantity, row.currency),
            source_video_id=row.source_video_id,
            row=row,
        )

    @strawberry.field(description="The product as it is now.")
    @loaded("product_by_id", key=lambda item: item.row.product_id)
    def product(self, row: ProductRow) -> Product:
        return Product.from_row(row)


@strawberry.type(description="A carrier scan.")
class ShipmentEvent:
    kind: ShipmentEventKind = strawberry.field(description="What happened.")
    location: str | None = strawberry.field(description="Where, as the carrier reports it.")
    message: str | None = strawberry.field(description="The carrier's words.")
    happened_at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_row(cls, row: ShipmentEventRow) -> ShipmentEvent:
        return cls(
            kind=ShipmentEventKind(row.kind),
            location=row.location,
            message=row.message,
            happened_at=row.happened_at,
        )


@strawberry.type(description="How an order travels: carrier, tracking number and scans.")
class Shipment:
    carrier: str = strawberry.field(description="Carrier name, e.g. 'UPS'.")
    tracking_number: str = strawberry.field(description="The carrier's tracking number.")
    shipped_at: datetime | None = strawberry.field(description="Handed to the carrier.")
    delivered_at: datetime | None = strawberry.field(description="Delivered, if it was.")
    estimated_delivery: datetime | None = strawberry.field(
        description="The carrier's delivery estimate."
    )
    row: strawberry.Private[ShipmentRow]

    @classmethod
    def from_row(cls, row: ShipmentRow) -> Shipment:
        return cls(
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            shipped_at=row.shipped_at,
            delivered_at=row.delivered_at,
            estimated_delivery=row.estimated_delivery,
            row=row,
        )

    @strawberry.field(description="Carrier scans, oldest first.")
    @loaded("shipment_events_by_shipment_id", key=lambda shipment: pk(shipment.row))
    def events(self, rows: list[ShipmentEventRow]) -> list[ShipmentEvent]:
        return [ShipmentEvent.from_row(r) for r in rows]


@strawberry.type(description="One status change of an order; also what subscriptions deliver.")
class OrderEvent(Node):
    cursor: str = strawberry.field(
        description="Opaque; pass as `after` to resume a subscription after this event."
    )
    from_status: OrderStatus | None = strawberry.field(
        description="The status before; null for the first event (order placed)."
    )
    to_status: OrderStatus = strawberry.field(description="The status after.")
    order_version: int = strawberry.field(description="The order's version after this change.")
    actor: EventActor = strawberry.field(description="Who made the change.")
    note: str | None = strawberry.field(description="Free text given with the change.")
    occurred_at: datetime = strawberry.field(description="When it was committed.")
    row: strawberry.Private[OrderEventRow]

    @classmethod
    def from_row(cls, row: OrderEventRow) -> OrderEvent:
        return cls(
            id=global_id("OrderEvent", row),
            cursor=event_cursor(pk(row)),
            from_status=None if row.from_status is None else OrderStatus(row.from_status),
            to_status=OrderStatus(row.to_status),
            order_version=row.order_version,
            actor=EventActor(row.actor),
            note=row.note,
            occurred_at=row.occurred_at,
            row=row,
        )

    @strawberry.field(description="The order that changed.")
    @loaded("order_by_id", key=lambda event: event.row.order_id)
    def order(self, row: OrderRow) -> Order:
        return Order.from_row(row)


@strawberry.type(description="A purchase from one shop.")
class Order(Node):
    number: str = strawberry.field(description="Human-readable, unique order number.")
    status: OrderStatus = strawberry.field(description="Where the order is in its lifecycle.")
    tab: OrderTab = strawberry.field(description="The Order Center tab it is listed under.")
    version: int = strawberry.field(
        description="Bumps on every change; events carry it, so a client can spot a gap."
    )
    cancel_reason: CancelReason | None = strawberry.field(description="Why it was cancelled.")
    placed_at: datetime = strawberry.field(description="When it was placed.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    subtotal: Money = strawberry.field(description="Sum of the items' totals.")
    shipping_fee: Money = strawberry.field(description="Shipping charged.")
    tax: Money = strawberry.field(description="Tax charged.")
    total: Money = strawberry.field(description="subtotal + shippingFee + tax.")
    shipping_address: Address = strawberry.field(description="Where it ships to.")
    row: strawberry.Private[OrderRow]

    @classmethod
    def from_row(cls, row: OrderRow) -> Order:
        status = rules.OrderStatus(row.status)
        return cls(
            id=global_id("Order", row),
            number=row.number,
            status=OrderStatus(status.value),
            tab=OrderTab(rules.tab_of(status).value),
            version=row.version,
            cancel_reason=None if row.cancel_reason is None else CancelReason(row.cancel_reason),
            placed_at=row.placed_at,
            updated_at=row.updated_at,
            subtotal=Money.of(row.subtotal_minor, row.currency),
            shipping_fee=Money.of(row.shipping_minor, row.currency),
            tax=Money.of(row.tax_minor, row.currency),
            total=Money.of(row.total_minor, row.currency),
            shipping_address=Address(
                name=row.ship_name,
                line1=row.ship_line1,
                line2=row.ship_line2,
                city=row.ship_city,
                region=row.ship_region,
                postal_code=row.ship_postal_code,
                country_code=row.ship_country_code,
                phone=row.ship_phone,
            ),
            row=row,
        )

    @strawberry.field(description="Whether money was taken (or given back) for it.")
    @loaded("payments_by_order_id", key=lambda order: pk(order.row))
    def payment_status(self, payments: list[PaymentRow]) -> OrderPaymentStatus:
        statuses = {p.status for p in payments}
        if "REFUNDED" in statuses:
            return OrderPaymentStatus.REFUNDED
        if "CAPTURED" in statuses:
            return OrderPaymentStatus.PAID
        return OrderPaymentStatus.UNPAID

    @strawberry.field(description="The shop it was bought from.")
    @loaded("shop_by_id", key=lambda order: order.row.shop_id)
    def shop(self, row: ShopRow) -> Shop:
        return Shop.from_row(row)

    @strawberry.field(description="What was bought.")
    @loaded("items_by_order_id", key=lambda order: pk(order.row))
    def items(self, rows: list[OrderItemRow]) -> list[OrderItem]:
        return [OrderItem.from_row(r) for r in rows]

    @strawberry.field(description="Every payment attempt and refund, oldest first.")
    @loaded("payments_by_order_id", key=lambda order: pk(order.row))
    def payments(self, rows: list[PaymentRow]) -> list[Payment]:
        return [Payment.from_row(r) for r in rows]

    @strawberry.field(description="How it travels; null until it ships.")
    @loaded("shipment_by_order_id", key=lambda order: pk(order.row))
    def shipment(self, row: ShipmentRow | None) -> Shipment | None:
        return None if row is None else Shipment.from_row(row)

    @strawberry.field(description="Every status change, oldest first.")
    @loaded("events_by_order_id", key=lambda order: pk(order.row))
    def timeline(self, rows: list[OrderEventRow]) -> list[OrderEvent]:
        return [OrderEvent.from_row(r) for r in rows]

    @strawberry.field(description="What the viewer may do now, per the order state machine.")
    async def available_actions(self, info: Info) -> list[OrderAction]:
        actors = await policy.order_actors(info.context, self.row)
        actions = rules.available_actions(rules.OrderStatus(self.row.status), actors)
        return [OrderAction(a.value) for a in actions]
