"""returns and their lines; a refund paid once per return

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:32:43.899460
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A return's refund row is PARTIALLY_REFUNDED: longer than 16 characters.
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
    op.create_table(
        "returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal_minor", sa.Integer(), nullable=False),
        sa.Column("tax_minor", sa.Integer(), nullable=False),
        sa.Column("shipping_minor", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.Integer(), nullable=False),
        sa.Column("refund_payment_id", sa.Integer(), nullable=True),
        sa.Column("refund_failure", sa.String(length=500), nullable=True),
        sa.Column("refund_attempts", sa.Integer(), nullable=False),
        sa.Column("requested_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["refund_payment_id"],
            ["payments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("refund_payment_id"),
    )
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.create_index("ix_returns_order_id_id", ["order_id", "id"], unique=False)

    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["order_item_id"], ["order_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_lines_order_item_id"), ["order_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_return_lines_return_id"), ["return_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_return_lines_return_id"))
        batch_op.drop_index(batch_op.f("ix_return_lines_order_item_id"))

    op.drop_table("return_lines")
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_index("ix_returns_order_id_id")

    op.drop_table("returns")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
