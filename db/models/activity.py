"""What a buyer does besides buying: tags, views, and what we recommend from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class TaggedItem(SQLModel, table=True):
    """A product the buyer tagged, usually from a video."""

    __tablename__ = "tagged_items"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_tagged_items_user_product"),
        Index("ix_tagged_items_user_tagged", "user_id", "tagged_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    product_id: int = Field(foreign_key="products.id", index=True)
    source_video_id: str | None = Field(default=None, max_length=64)
    tagged_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ProductView(SQLModel, table=True):
    """The latest time the buyer viewed a product (one row per product)."""

    __tablename__ = "product_views"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_product_views_user_product"),
        Index("ix_product_views_user_viewed", "user_id", "viewed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    product_id: int = Field(foreign_key="products.id", index=True)
    view_count: int = Field(default=1)
    viewed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Recommendation(SQLModel, table=True):
    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_recommendations_user_product"),
        Index("ix_recommendations_user_rank", "user_id", "dismissed", "score", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    product_id: int = Field(foreign_key="products.id", index=True)
    score: float
    reason: str = Field(max_length=32)
    based_on_product_id: int | None = Field(default=None, foreign_key="products.id")
    dismissed: bool = Field(default=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class RecommendationRequest(SQLModel, table=True):
    """A buyer whose recommendations `ordercenter worker` should recompute (worker mode).

    One row per buyer: a newer action only moves ``requested_at``, which is what the
    worker's debounce waits on.
    """

    __tablename__ = "recommendation_requests"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    requested_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
