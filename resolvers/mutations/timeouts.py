"""The system's own transitions: unpaid orders expire, delivered ones complete.

Each order moves in its own short transaction under the same lock and version
check as any other change, so several server processes may sweep at once: the
second one finds the order already moved and leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from db.models import Order
from domain.order_status import Actor, CancelReason, OrderAction, OrderStatus
from resolvers.context import Context
from resolvers.mutations.lifecycle import restock
from resolvers.mutations.outcome import Refused
from resolvers.mutations.transitions import lock_order, transition
from resolvers.mutations.unit_of_work import (
    OrderOutcome,
    announce,
    commit_with_events,
    write,
)

BATCH = 500


@dataclass(frozen=True, slots=True)
class SweepReport:
    cancelled: int
    completed: int


async def _due(ctx: Context, status: OrderStatus, before: datetime, column: str) -> list[int]:
    stamp = col(getattr(Order, column))
    statement = (
        select(col(Order.id))
        .where(col(Order.status) == status.value, stamp < before)
        .order_by(stamp)
        .limit(BATCH)
    )
    async with ctx.sessions() as session:
        return [i for i in (await session.execute(statement)).scalars().all() if i is not None]


async def _move(
    ctx: Context, order_id: int, status: OrderStatus, before: datetime, action: OrderAction
) -> bool:
    now = ctx.clock()
    async with write(ctx) as session:
        order = await lock_order(session, order_id)
        stamp = (
            None
            if order is None
            else (order.placed_at if status is OrderStatus.UNPAID else order.updated_at)
        )
        # Re-checked under the lock: a buyer may have paid or confirmed meanwhile.
        if order is None or order.status != status.value or stamp is None or stamp >= before:
            return False
        try:
            event = await transition(
                session,
                order,
                action,
                Actor.SYSTEM,
                now=now,
                note="Not paid in time."
                if action is OrderAction.CANCEL
                else "Confirmed automatically after the confirmation window.",
                cancel_reason=CancelReason.PAYMENT_FAILED.value
                if action is OrderAction.CANCEL
                else None,
            )
        except Refused:
            return False
        if action is OrderAction.CANCEL:
            await restock(session, order)
        event_ids = await commit_with_events(session, [event])
    await announce(ctx, OrderOutcome(order, event_ids=event_ids))
    return True


async def apply_timeouts(ctx: Context) -> SweepReport:
    """Cancel orders unpaid past the timeout and complete those delivered past the window."""
    now = ctx.clock()
    unpaid_before = now - ctx.rules.unpaid_timeout
    delivered_before = now - ctx.rules.receipt_window
    cancelled = completed = 0
    for order_id in await _due(ctx, OrderStatus.UNPAID, unpaid_before, "placed_at"):
        if await _move(ctx, order_id, OrderStatus.UNPAID, unpaid_before, OrderAction.CANCEL):
            cancelled += 1
    for order_id in await _due(ctx, OrderStatus.DELIVERED, delivered_before, "updated_at"):
        moved = await _move(
            ctx, order_id, OrderStatus.DELIVERED, delivered_before, OrderAction.CONFIRM_RECEIPT
        )
        completed += moved
    return SweepReport(cancelled=cancelled, completed=completed)
