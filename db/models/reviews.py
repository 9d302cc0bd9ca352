"""Buyers' reviews of the lines of their completed orders (domain.reviews)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class Review(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        # Product.reviews: a product's reviews, newest first, keyset-paginated; and
        # Product.rating's sum and count from the same index.
        Index("ix_reviews_product_posted", "product_id", "posted_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # One review per order line: the second insert for a line collides here.
    order_item_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("order_items.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    product_id: int = Field(foreign_key="products.id")
    # The reviewer (the order's buyer); never shown: only their display name is.
    user_id: int = Field(foreign_key="users.id", index=True)
    rating: int
    text: str = Field(default="", max_length=2000)
    posted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    edited_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
