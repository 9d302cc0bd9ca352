"""Database side of the seed: the emptiness guard, the reset, and chunked bulk inserts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import metadata

Row = dict[str, Any]
Progress = Callable[[str, int, int], None]

# Large enough to amortise statement overhead, small enough to keep asyncpg's
# 32,767-parameter limit and progress updates comfortable.
CHUNK_ROWS = 5_000


class DatabaseNotEmpty(Exception):
    """The target database already holds data and a reset was not asked for."""


def table(name: str) -> Table:
    return metadata.tables[name]


async def guard_or_reset(conn: AsyncConnection, *, reset: bool) -> None:
    """Refuse to seed over existing users, or wipe every table when ``reset`` is set."""
    if reset:
        await _wipe(conn)
        return
    users = await conn.scalar(select(func.count()).select_from(table("users")))
    if users:
        raise DatabaseNotEmpty(
            f"the database already has {users} user(s); refusing to seed over existing data"
        )


async def _wipe(conn: AsyncConnection) -> None:
    tables = list(reversed(metadata.sorted_tables))
    if conn.dialect.name == "postgresql":
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.format_table(t) for t in tables)
        # One statement so foreign keys never see a half-emptied schema, and the
        # identity sequences start over so seeded ids are reproducible.
        await conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
        return
    for t in tables:
        await conn.execute(t.delete())


async def fix_sequences(conn: AsyncConnection) -> None:
    """Move PostgreSQL id sequences past the ids the seed assigned itself."""
    if conn.dialect.name != "postgresql":
        return
    for t in metadata.sorted_tables:
        if "id" not in t.c:
            continue
        highest = select(func.max(t.c.id)).scalar_subquery()
        # is_called=false when empty, so the first insert still gets id 1.
        await conn.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(t.name, "id"),
                    func.coalesce(highest, 1),
                    highest.is_not(None),
                )
            )
        )


# Each order's event ids, handed out again in time order (ties: as first numbered).
_EVENTS_IN_TIME_ORDER = """
WITH ranked AS (
    SELECT id, order_id,
           row_number() OVER (PARTITION BY order_id ORDER BY occurred_at, id) AS by_time,
           row_number() OVER (PARTITION BY order_id ORDER BY id) AS by_id
    FROM order_events
), renumbered AS (
    SELECT later.id AS old_id, earlier.id AS new_id
    FROM ranked later JOIN ranked earlier
      ON earlier.order_id = later.order_id AND earlier.by_id = later.by_time
    WHERE earlier.id <> later.id
)
UPDATE order_events SET id = -renumbered.new_id
FROM renumbered WHERE order_events.id = renumbered.old_id
"""


async def number_events_in_time_order(conn: AsyncConnection) -> None:
    """Renumber each order's events so that id order is time order, as the server writes
    them (and subscribers replay them by id). The seed builds returns' steps after their
    order's own events and reviews after every order, so their ids came later than events
    that happened after them. Negated first, then turned back: ids stay unique throughout."""
    await conn.execute(text(_EVENTS_IN_TIME_ORDER))
    await conn.execute(text("UPDATE order_events SET id = -id WHERE id < 0"))


class BulkWriter:
    """Inserts prepared rows in chunks and counts what went in, per table."""

    def __init__(self, conn: AsyncConnection, progress: Progress | None) -> None:
        self._conn = conn
        self._progress = progress
        self.counts: dict[str, int] = {t.name: 0 for t in metadata.sorted_tables}

    async def insert(self, name: str, rows: Sequence[Row], *, report: bool = True) -> None:
        """Insert ``rows`` into table ``name``; every row must carry every column."""
        target = table(name)
        total = len(rows)
        if report:
            # Started before the first chunk: the bar's clock and rate measure the writing.
            self.report(name, 0, total)
        for start in range(0, total, CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            await self._conn.execute(insert(target), list(chunk))
            self.counts[name] += len(chunk)
            if report and self._progress is not None:
                self._progress(name, min(start + CHUNK_ROWS, total), total)

    def report(self, stage: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)
