"""idempotency keys for every mutation: remember answers that are not an order

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:30:00.000000

Every state-changing mutation now takes an optional idempotencyKey and keeps it in the
same table as placeOrder/payOrder. Order mutations remember their order in order_id; the
others (tags, views, wallet, recommendations) remember what their first answer needs in
``result``, a small JSON object (a row id, a count, or a removed row's fields).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("result")
