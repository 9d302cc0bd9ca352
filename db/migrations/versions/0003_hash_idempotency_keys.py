"""idempotency keys: keep only the sha256 of a client's key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:30:00.000000

A key is the client's free text (card numbers were found in some), so the table keeps
its sha256 (hex) instead, as resolvers.mutations.idempotency.key_digest computes it.
Existing rows are hashed in place, in Python, so it runs the same on SQLite and
PostgreSQL; a retry after the upgrade still finds its row.

The downgrade only widens the column again: a digest cannot be turned back into the
key, so rows kept from before it stop matching retries (they expire with the TTL).
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's view of the table, not the model's: later revisions may change it.
keys = sa.table(
    "idempotency_keys",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
)


def _digest(key: str) -> str:
    # Frozen copy of key_digest: a migration must not change when the app code does.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(keys.c.id, keys.c.key)).all()
    if rows:
        rehash = (
            sa.update(keys)
            .where(keys.c.id == sa.bindparam("row_id"))
            .values(key=sa.bindparam("digest"))
        )
        bind.execute(rehash, [{"row_id": i, "digest": _digest(k)} for i, k in rows])
    # Only after hashing: a 128-character key would not fit the narrower column.
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "key",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
