"""Returns of delivered orders, their lines, and the refund each one paid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class OrderReturn(SQLModel, table=True):
    """A buyer's request to send back some units of an order (domain.returns)."""

    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_order_id_id", "order_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    )
    # The order's buyer, who asked for it.
    user_id: int = Field(foreign_key="users.id")
    status: str = Field(max_length=16)
    reason: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=500)
    reject_reason: str | None = Field(default=None, max_length=500)
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)
    # What it refunds (domain.returns.refund_for): estimated until refunded, then paid.
    currency: str = Field(max_length=3)
    subtotal_minor: int
    tax_minor: int
    shipping_minor: int
    total_minor: int
    # The refund's payments row: one per return, so it is never paid twice.
    refund_payment_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("payments.id"), unique=True, nullable=True),
    )
    # Why the last refund attempt failed; cleared when it succeeds.
    refund_failure: str | None = Field(default=None, max_length=500)
    refund_attempts: int = Field(default=0)
    requested_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    received_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    refunded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ReturnLine(SQLModel, table=True):
    """Units of one order line in a return; its price as the order charged it."""

    __tablename__ = "return_lines"

    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("returns.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    order_item_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("order_items.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    quantity: int
    unit_price_minor: int
    currency: str = Field(max_length=3)
