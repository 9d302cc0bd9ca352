"""Idempotency keys: a retried mutation returns the first result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # The unique index is what makes two racing requests with one key collide.
        UniqueConstraint("user_id", "operation", "key", name="uq_idempotency_user_operation_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    operation: str = Field(max_length=32)
    # sha256 (hex) of the client's key, never the key: it is the client's free text.
    key: str = Field(max_length=64)
    # sha256 of the canonical input: the same key with other input is a CONFLICT.
    request_hash: str = Field(max_length=64)
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    # A refusal is part of the first result too: a retried declined payment stays
    # declined (and is not charged again).
    error_code: str | None = Field(default=None, max_length=32)
    error_message: str | None = Field(default=None, max_length=500)
    # What a mutation whose answer is not an order needs to answer a retry as it
    # answered first: a row id, a count, or the fields of a row it removed.
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
