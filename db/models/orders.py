"""Orders, their items, their status history and their shipment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        # The Order Center list: a buyer's orders, newest first, keyset-paginated.
        Index("ix_orders_user_placed", "user_id", "placed_at", "id"),
        # Tab badges and status filters.
        Index("ix_orders_user_status", "user_id", "status"),
        Index("ix_orders_shop_placed", "shop_id", "placed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    user_id: int = Field(foreign_key="users.id")
    shop_id: int = Field(foreign_key="shops.id")
    status: str = Field(max_length=32)
    # Bumped on every change; compare-and-set guard for concurrent writers.
    version: int = Field(default=1)
    currency: str = Field(max_length=3)
    subtotal_minor: int
    shipping_minor: int
    tax_minor: int
    total_minor: int
    cancel_reason: str | None = Field(default=None, max_length=32)
    ship_name: str = Field(max_length=128)
    ship_line1: str = Field(max_length=200)
    ship_line2: str | None = Field(default=None, max_length=200)
    ship_city: str = Field(max_length=100)
    ship_region: str | None = Field(default=None, max_length=100)
    ship_postal_code: str = Field(max_length=20)
    ship_country_code: str = Field(max_length=2)
    ship_phone: str | None = Field(default=None, max_length=32)
    placed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    product_id: int = Field(foreign_key="products.id", index=True)
    # Snapshots taken when the order was placed; the product may change later.
    title: str = Field(max_length=200)
    unit_price_minor: int
    currency: str = Field(max_length=3)
    quantity: int
    source_video_id: str | None = Field(default=None, max_length=64)


class OrderEvent(SQLModel, table=True):
    """One thing that happened to an order (``domain.order_events``): a status change,
    or a scan, payment, refund, return or review step that leaves the status as it was.
    Its id is the subscription cursor."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id_id", "order_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    )
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    order_version: int
    actor: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=500)
    occurred_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    kind: str = Field(
        default="STATUS_CHANGED",
        sa_column=Column(
            String(32), nullable=False, default="STATUS_CHANGED", server_default="STATUS_CHANGED"
        ),
    )
    # The row the event is about, by its kind: a shipment event, payment, return or review.
    subject_id: int | None = Field(default=None)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    carrier: str = Field(max_length=64)
    tracking_number: str = Field(max_length=64, index=True)
    shipped_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    estimated_delivery: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ShipmentEvent(SQLModel, table=True):
    """A carrier scan."""

    __tablename__ = "shipment_events"
    __table_args__ = (
        Index("ix_shipment_events_shipment_happened", "shipment_id", "happened_at"),
        # A carrier's scan is applied once however often its webhook delivers it: the
        # second insert of the same scan id for the shipment collides here.
        UniqueConstraint("shipment_id", "carrier_scan_id", name="uq_shipment_events_scan"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=32)
    location: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=500)
    happened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The carrier's own id of the scan, when it came by webhook (None when typed in).
    carrier_scan_id: str | None = Field(default=None, max_length=128)
    # When we stored it: a webhook may bring a scan long after it happened. A column
    # default, so that every insert (the ORM's, a statement's, the seed's) sets it.
    recorded_at: datetime = Field(
        sa_column=Column(UTCDateTime, nullable=False, default=utcnow),
        default_factory=utcnow,
    )
