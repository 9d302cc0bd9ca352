"""One write transaction per use-case, and what it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
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
        session.add_all(events)
        await session.flush()
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
