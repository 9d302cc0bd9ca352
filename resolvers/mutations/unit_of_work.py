"""One write transaction per use-case, and what it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import WRITE
from db.models import Order
from resolvers.context import Context
from resolvers.mutations.outcome import UserError


@dataclass(slots=True)
class OrderOutcome:
    """The order as committed (None if nothing was), refusals, and events to announce."""

    order: Order | None
    errors: list[UserError] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


@asynccontextmanager
async def write(ctx: Context) -> AsyncIterator[AsyncSession]:
    """A session whose transaction may write; commit explicitly, or it rolls back."""
    async with ctx.sessions() as session:
        await session.connection(execution_options=WRITE)
        yield session


async def announce(ctx: Context, outcome: OrderOutcome) -> OrderOutcome:
    """After commit: publish the new events and drop stale cached rows of the order."""
    if outcome.order is not None and outcome.order.id is not None:
        ctx.loaders.forget_order(outcome.order.id)
        ctx.loaders.order_by_id.prime(outcome.order.id, outcome.order)
    if outcome.event_ids:
        await ctx.events.publish(outcome.event_ids)
    return outcome
