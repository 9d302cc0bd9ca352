"""order events of every kind: scans, payments, refunds, returns and reviews beside status changes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=32), nullable=False, server_default="STATUS_CHANGED")
        )
        batch.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("subject_id")
        batch.drop_column("kind")
