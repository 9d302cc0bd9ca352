"""shipment scans: when each was stored, beside when it happened

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recorded_at", db.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Scans stored before this column: when they happened is the best we know.
    op.execute("UPDATE shipment_events SET recorded_at = happened_at")
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.alter_column(
            "recorded_at", existing_type=db.types.UTCDateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_events", schema=None) as batch_op:
        batch_op.drop_column("recorded_at")
