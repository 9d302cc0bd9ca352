"""Signed carrier webhook deliveries seen, so the same signed delivery is refused twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class CarrierDelivery(SQLModel, table=True):
    """One accepted webhook delivery. Only needed while its timestamp is fresh: an older
    copy is refused as stale anyway, so rows past the window are deleted."""

    __tablename__ = "carrier_deliveries"
    __table_args__ = (
        # Two racing copies of one delivery collide here; exactly one is applied.
        UniqueConstraint("carrier", "signature", name="uq_carrier_deliveries_signature"),
    )

    id: int | None = Field(default=None, primary_key=True)
    carrier: str = Field(max_length=64)
    # sha256 (hex) of the X-Carrier-Signature value: identifies the signed delivery.
    signature: str = Field(max_length=64)
    scan_count: int
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
