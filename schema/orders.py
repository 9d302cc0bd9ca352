"""Orders as the buyer (or the seller of the order's shop) sees them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import Order as OrderRow
from db.models import OrderEvent as OrderEventRow
from db.models import OrderItem as OrderItemRow
from db.models import Payment as PaymentRow
from db.models import Shipment as ShipmentRow
from db.models import ShipmentEvent as ShipmentEventRow
from domain import order_status as rules
from domain.order_events import PAYMENT_EVENTS, RETURN_EVENTS, REVIEW_EVENTS, SCAN_EVENTS
from resolvers import policy
from resolvers import returns as order_returns
from resolvers.subscriptions.cursors import event_cursor
from schema.catalog import Product, Shop
from schema.common import Address, Info, Money, Node, loaded, related, subject
from schema.declared import FromRow, column, derived, embedded, money, node_id, rule
from schema.enums import (
    CancelReason,
    EventActor,
    OrderAction,
    OrderEventKind,
    OrderPaymentStatus,
    OrderStatus,
    OrderTab,
    ShipmentEventKind,
)
from schema.payments import Payment
from schema.returns import OrderReturn
from schema.reviews import Review


@strawberry.type(description="One line of an order, as it was when the order was placed.")
class OrderItem(FromRow):
    id: strawberry.ID = node_id(description="The line's global id.")
    title: str = column("title", description="The product's title when ordered.")
    quantity: int = column("quantity", description="How many.")
    unit_price: Money = money("unit_price_minor", description="Price of one, when ordered.")
    total: Money = money("unit_price_minor", "quantity", description="unitPrice times quantity.")
    source_video_id: str | None = column(
        "source_video_id",
        description="The video the buyer bought it from, if any (creator attribution).",
    )
    product: Product = related(
        "product_by_id", key="product_id", description="The product as it is now."
    )
    review: Review | None = related(
        "review_by_order_item_id",
        key="id",
        description="The buyer's review of this line; null until they review it.",
    )
    row: strawberry.Private[OrderItemRow]


@strawberry.type(description="A carrier scan.")
class ShipmentEvent(FromRow):
    kind: ShipmentEventKind = column("kind", description="What happened.")
    location: str | None = column("location", description="Where, as the carrier reports it.")
    message: str | None = column("message", description="The carrier's words.")
    happened_at: datetime = column("happened_at", description="When.")
    recorded_at: datetime = column(
        "recorded_at",
        description="When Order Center stored it: a carrier may report a scan long after "
        "happenedAt.",
    )
    row: strawberry.Private[ShipmentEventRow]


@strawberry.type(description="How an order travels: carrier, tracking number and scans.")
class Shipment(FromRow):
    carrier: str = column("carrier", description="Carrier name, e.g. 'UPS'.")
    tracking_number: str = column("tracking_number", description="The carrier's tracking number.")
    shipped_at: datetime | None = column("shipped_at", description="Handed to the carrier.")
    delivered_at: datetime | None = column("delivered_at", description="Delivered, if it was.")
    estimated_delivery: datetime | None = column(
        "estimated_delivery", description="The carrier's delivery estimate."
    )
    events: list[ShipmentEvent] = related(
        "shipment_events_by_shipment_id", key="id", description="Carrier scans, oldest first."
    )
    row: strawberry.Private[ShipmentRow]


@strawberry.type(
    description="One thing that happened to an order (see `kind`); also what subscriptions deliver."
)
class OrderEvent(FromRow, Node):
    cursor: str = derived(
        lambda row: event_cursor(row.id),
        sql="event_cursor",
        description="Opaque; pass as `after` to resume a subscription after this event.",
    )
    kind: OrderEventKind = column(
        "kind",
        description="What happened: a status change, or a step (scan, payment, refund, return, "
        "review) that leaves the status as it was.",
    )
    from_status: OrderStatus | None = column(
        "from_status",
        description="The status before; null for the first event (order placed). Equal to "
        "`toStatus` for every kind but STATUS_CHANGED.",
    )
    to_status: OrderStatus = column("to_status", description="The status after.")
    order_version: int = column(
        "order_version", description="The order's version after this change."
    )
    actor: EventActor = column("actor", description="Who made the change.")
    note: str | None = column("note", description="Free text given with the change.")
    occurred_at: datetime = column("occurred_at", description="When it was committed.")
    order: Order = related("order_by_id", key="order_id", description="The order that changed.")
    shipment_event: ShipmentEvent | None = subject(
        "shipment_event_by_id",
        kinds=SCAN_EVENTS,
        description="The carrier scan a CARRIER_SCAN event records; null for every other kind.",
    )
    payment: Payment | None = subject(
        "payment_by_id",
        kinds=PAYMENT_EVENTS,
        description="The payment attempt or refund a PAYMENT_CAPTURED, PAYMENT_FAILED or "
        "REFUNDED event records, shown as `Order.payments` shows it; null for every other kind.",
    )
    order_return: OrderReturn | None = subject(
        "order_return_by_id",
        kinds=RETURN_EVENTS,
        description="The return a RETURN_* event records (as it reads now); null for every "
        "other kind.",
    )
    review: Review | None = subject(
        "review_by_id",
        kinds=REVIEW_EVENTS,
        description="The review a REVIEW_POSTED or REVIEW_EDITED event records (as it reads "
        "now); null for every other kind.",
    )
    row: strawberry.Private[OrderEventRow]


def _tab(row: OrderRow) -> OrderTab:
    return OrderTab(rules.tab_of(rules.OrderStatus(row.status)).value)


@strawberry.type(description="A purchase from one shop.")
class Order(FromRow, Node):
    number: str = column("number", description="Human-readable, unique order number.")
    status: OrderStatus = column("status", description="Where the order is in its lifecycle.")
    tab: OrderTab = derived(
        _tab, sql="order_tab", description="The Order Center tab it is listed under."
    )
    version: int = column(
        "version",
        description="Bumps on every change; events carry it, so a client can spot a gap.",
    )
    cancel_reason: CancelReason | None = column(
        "cancel_reason", description="Why it was cancelled."
    )
    placed_at: datetime = column("placed_at", description="When it was placed.")
    updated_at: datetime = column("updated_at", description="When it last changed.")
    subtotal: Money = money("subtotal_minor", description="Sum of the items' totals.")
    shipping_fee: Money = money("shipping_minor", description="Shipping charged.")
    tax: Money = money("tax_minor", description="Tax charged.")
    total: Money = money("total_minor", description="subtotal + shippingFee + tax.")
    shipping_address: Address = embedded(
        Address,
        description="Where it ships to.",
        name="ship_name",
        line1="ship_line1",
        line2="ship_line2",
        city="ship_city",
        region="ship_region",
        postal_code="ship_postal_code",
        country_code="ship_country_code",
        phone="ship_phone",
    )
    row: strawberry.Private[OrderRow]

    @strawberry.field(description="Whether money was taken (or given back) for it.")
    @loaded("payments_by_order_id", key="id", sql="payment_status")
    def payment_status(self, payments: list[PaymentRow]) -> OrderPaymentStatus:
        shown = rules.order_payment_status(p.status for p in payments)
        return OrderPaymentStatus(shown.value)

    shop: Shop = related("shop_by_id", key="shop_id", description="The shop it was bought from.")
    items: list[OrderItem] = related("items_by_order_id", key="id", description="What was bought.")
    payments: list[Payment] = related(
        "payments_by_order_id",
        key="id",
        description="Every payment attempt and refund, oldest first.",
    )
    shipment: Shipment | None = related(
        "shipment_by_order_id", key="id", description="How it travels; null until it ships."
    )
    timeline: list[OrderEvent] = related(
        "events_by_order_id",
        key="id",
        description="Everything that happened to the order (status changes and the steps "
        "beside them, see OrderEvent.kind), oldest first.",
    )
    returns: list[OrderReturn] = related(
        "returns_by_order_id", key="id", description="Its returns, oldest first."
    )

    @strawberry.field(
        description="What the viewer may do now, in this order: the order state "
        "machine's actions, REQUEST_RETURN, the next steps of its returns, then REVIEW (a "
        "line is left to review) and EDIT_REVIEW (a review is still editable).",
        metadata=rule("available_actions"),
    )
    async def available_actions(self, info: Info) -> list[OrderAction]:
        actors = await policy.order_actors(info.context, self.row)
        actions = await order_returns.order_actions(info.context, self.row, actors)
        return [OrderAction(a.value) for a in actions]
