"""People, shops and what shops sell."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=128)
    # buyer, seller (owns shops) or operator; sellers buy too.
    role: str = Field(default="buyer", max_length=16)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Shop(SQLModel, table=True):
    __tablename__ = "shops"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    handle: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=128)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_category_id", "category", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    category: str = Field(max_length=64)
    image_url: str | None = Field(default=None, max_length=500)
    price_minor: int
    currency: str = Field(max_length=3)
    stock: int = Field(default=0)
    on_sale: bool = Field(default=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
