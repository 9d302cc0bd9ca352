"""carrier webhooks: deliveries seen, and the carrier's id on each scan

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("scan_count", sa.Integer(), nullable=False),
        sa.Column("received_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("carrier", "signature", name="uq_carrier_deliveries_signature"),
    )
    with op.batch_alter_table("carrier_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_carrier_deliveries_received_at"), ["received_at"], unique=False
        )
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carrier_scan_id", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(
            "uq_shipment_events_scan", ["shipment_id", "carrier_scan_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_shipment_events_scan", type_="unique")
        batch_op.drop_column("carrier_scan_id")
    with op.batch_alter_table("carrier_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_deliveries_received_at"))
    op.drop_table("carrier_deliveries")
