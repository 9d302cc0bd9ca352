"""Saved payment methods and payment attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class PaymentMethod(SQLModel, table=True):
    """A card saved as the processor's token; never a card number."""

    __tablename__ = "payment_methods"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    brand: str = Field(max_length=32)
    last4: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    processor_token: str = Field(max_length=128)
    is_default: bool = Field(default=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Removed methods are kept (payments still point at them) but no longer listed.
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Payment(SQLModel, table=True):
    """One attempt to take, or give back, money for an order."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_user_created", "user_id", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    payment_method_id: int | None = Field(default=None, foreign_key="payment_methods.id")
    amount_minor: int
    currency: str = Field(max_length=3)
    # Room for PARTIALLY_REFUNDED (migration 0008).
    status: str = Field(max_length=32)
    gateway_reference: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
