"""One write transaction per use-case, and what it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Order, OrderEvent
from db.writing import write_transaction
from resolvers.context import Context
from resolvers.mutations.outcome import UserError


@dataclass(slots=True)
class OrderOutcome:
    """The order as committed (None if nothing was), refusals, and events to announce."""

    order: Order | None
    errors: list[UserError] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


_EVENTS: Table = OrderEvent.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = [column.key for column in _EVENTS.columns if column.key != "id"]
# On the table, not the model: an executemany that SQLAlchemy sends as one multi-row
# INSERT (its "insertmanyvalues"), compiled once, where the ORM's flush sent one
# INSERT per event and an ORM insert of a list of rows is compiled on every call.
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id)


def _row(event: OrderEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in _EVENT_COLUMNS}


# The PostgreSQL NOTIFY channel that says "order events committed".
EVENTS_CHANNEL = "ordercenter_order_events"
# Arbitrary, fixed key of the transaction-scoped advisory lock that orders event ids.
EVENT_ORDER_LOCK = 7_406_318_226


async def commit_with_events(session: AsyncSession, events: Sequence[OrderEvent]) -> list[int]:
    """Insert the transaction's order events last, then commit; returns their ids.

    Subscribers resume from an event id, so ids must become visible in id order: an
    id that commits after a larger one would be skipped by a reader already past it.
    On PostgreSQL the inserts and the commit run under one advisory lock, so event
    transactions commit one after the other in id order; SQLite's write lock already
    serializes them. The lock is held only from the inserts to the commit.
    """
    if events:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ORDER_LOCK}
            )
        # One INSERT of all the rows. Ids are taken in the order of its rows (SQLite's
        # rowid and PostgreSQL's sequence step once per row, in order), though RETURNING
        # may list them in any order: sorted, they are the events' ids in turn.
        inserted = await session.execute(_INSERT_EVENTS, [_row(event) for event in events])
        for event, event_id in zip(events, sorted(inserted.scalars()), strict=True):
            event.id = event_id
        if postgres:
            # Delivered to LISTENers exactly when (and only if) this transaction commits.
            newest = max(event.id or 0 for event in events)
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": EVENTS_CHANNEL, "payload": str(newest)},
            )
    await session.commit()
    return [event.id for event in events if event.id is not None]


@asynccontextmanager
async def write(ctx: Context) -> AsyncIterator[AsyncSession]:
    """A session whose transaction may write; commit explicitly, or it rolls back."""
    async with ctx.sessions() as session, write_transaction(session):
        yield session


async def announce(ctx: Context, outcome: OrderOutcome) -> OrderOutcome:
    """After commit: publish the new events and drop stale cached rows of the order."""
    if outcome.order is not None and outcome.order.id is not None:
        ctx.loaders.forget_order(outcome.order.id)
        ctx.loaders.order_by_id.prime(outcome.order.id, outcome.order)
    if outcome.event_ids:
        await ctx.events.publish(outcome.event_ids)
    return outcome
