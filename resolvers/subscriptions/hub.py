"""The per-process subscription hub.

One task per process reads new ``order_events`` rows once per wake-up and hands
each to the local subscribers that want it; no subscriber ever queries on its own
for live events. Wake-ups come from the bus (in-process, PostgreSQL NOTIFY or Redis)
and, as a safety net for lost ones, from a slow periodic poll: the table is the
source of truth, the bus only says "look again".

Event ids commit in id order (see ``unit_of_work.commit_with_events``), so reading
``id > last`` never skips a row that commits later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import Order, OrderEvent

log = logging.getLogger("ordercenter.hub")

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
READ_BATCH = 1000


class WakeUps(Protocol):
    def listen(self) -> AsyncIterator[object]:
        """Yields whenever new events may have committed; runs until cancelled."""
        ...


@dataclass(eq=False, slots=True)
class Delivery:
    """An event with its order as read in the same batch, handed to every subscriber
    that wants it: they resolve `order` from it instead of each querying for it, and
    what one of them derives from the event (its GraphQL object, a rendered result)
    can be kept in ``shared`` for the others."""

    event: OrderEvent
    order: Order
    shared: dict[Any, Any] = field(default_factory=dict)


class SlowConsumer(Exception):
    """A subscriber's queue overflowed; it must resume from its last cursor."""


@dataclass(eq=False, slots=True)
class Subscriber:
    """One live subscription: what it wants, and a bounded queue of what it gets.

    A deque and one future rather than an asyncio.Queue: thousands of these sit idle
    per process, and a Queue (four deques, an Event, its own futures) weighs several
    times more for nothing this needs.
    """

    user_id: int | None
    order_id: int | None
    capacity: int
    pending: deque[Delivery] = field(default_factory=deque)
    waiter: asyncio.Future[None] | None = None
    floor: int = 0  # deliver only ids above this (the replay already covered the rest)
    overflowed: bool = False

    def offer(self, delivery: Delivery) -> None:
        event = delivery.event
        if self.overflowed or event.id is None or event.id <= self.floor:
            return
        if len(self.pending) >= self.capacity:
            self.overflowed = True
        else:
            self.pending.append(delivery)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self) -> Delivery:
        """The next delivery; what was queued before an overflow still goes out first."""
        while not self.pending:
            if self.overflowed:
                raise SlowConsumer
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.pending.popleft()


class SubscriptionHub:
    def __init__(
        self,
        sessions: Sessions,
        wakeups: WakeUps,
        *,
        queue_size: int = 256,
        poll_interval: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._wakeups = wakeups
        self.queue_size = queue_size
        self._poll_interval = poll_interval
        self.last_id = 0
        self._by_order: dict[int, set[Subscriber]] = defaultdict(set)
        self._by_user: dict[int, set[Subscriber]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []
        self._nudge = asyncio.Event()
        self.reads = 0  # table reads so far: one per wake-up, whatever the subscriber count

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._by_order.values()) + sum(
            len(s) for s in self._by_user.values()
        )

    async def start(self) -> None:
        async with self._sessions() as session:
            found = (await session.execute(select(func.max(col(OrderEvent.id))))).scalar_one()
        self.last_id = int(found or 0)
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listen"),
            asyncio.create_task(self._poll(), name="hub-poll"),
            asyncio.create_task(self._drain_forever(), name="hub-drain"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        async for _ in self._wakeups.listen():
            self._nudge.set()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            self._nudge.set()

    async def _drain_forever(self) -> None:
        while True:
            await self._nudge.wait()
            self._nudge.clear()
            try:
                await self.drain()
            except Exception:
                # A database hiccup: the next wake-up or poll reads from the same place.
                log.exception("hub could not read new order events")
                await asyncio.sleep(0.5)
                self._nudge.set()

    async def drain(self) -> None:
        """Read every event after ``last_id`` once and fan it out."""
        while True:
            statement = (
                select(OrderEvent, Order)
                .join(Order, col(Order.id) == col(OrderEvent.order_id))
                .where(col(OrderEvent.id) > self.last_id)
                .order_by(col(OrderEvent.id))
                .limit(READ_BATCH)
            )
            async with self._sessions() as session:
                rows = (await session.execute(statement)).all()
            self.reads += 1
            for event, order in rows:
                delivery = Delivery(event, order)
                for subscriber in list(self._by_order.get(event.order_id, ())):
                    subscriber.offer(delivery)
                for subscriber in list(self._by_user.get(order.user_id, ())):
                    subscriber.offer(delivery)
                if event.id is not None:
                    self.last_id = event.id
            if len(rows) < READ_BATCH:
                return

    def _register(self, subscriber: Subscriber) -> None:
        if subscriber.order_id is not None:
            self._by_order[subscriber.order_id].add(subscriber)
        elif subscriber.user_id is not None:
            self._by_user[subscriber.user_id].add(subscriber)

    def _unregister(self, subscriber: Subscriber) -> None:
        for index, key in (
            (self._by_order, subscriber.order_id),
            (self._by_user, subscriber.user_id),
        ):
            if key is not None and key in index:
                index[key].discard(subscriber)
                if not index[key]:
                    del index[key]

    async def _replay(
        self, subscriber: Subscriber, after: int, upto: int
    ) -> AsyncIterator[Delivery]:
        """Stored events in (after, upto] for this subscriber, oldest first, in pages."""
        while after < upto:
            statement = (
                select(OrderEvent, Order)
                .join(Order, col(Order.id) == col(OrderEvent.order_id))
                .where(col(OrderEvent.id) > after, col(OrderEvent.id) <= upto)
                .order_by(col(OrderEvent.id))
                .limit(READ_BATCH)
            )
            if subscriber.order_id is not None:
                statement = statement.where(col(OrderEvent.order_id) == subscriber.order_id)
            else:
                statement = statement.where(col(Order.user_id) == subscriber.user_id)
            async with self._sessions() as session:
                page = [Delivery(event, order) for event, order in await session.execute(statement)]
            for delivery in page:
                yield delivery
            if len(page) < READ_BATCH:
                return
            after = page[-1].event.id or upto

    async def subscribe(
        self, *, user_id: int | None, order_id: int | None, after: int | None
    ) -> AsyncIterator[Delivery]:
        """Events for one order (or all of a buyer's orders): replayed after ``after``,
        then live, with no gap and no duplicate at the seam."""
        subscriber = Subscriber(user_id, order_id, self.queue_size)
        # Registered before reading last_id, with no await between: every event above
        # `upto` reaches the queue, every one at or below it comes from the replay.
        self._register(subscriber)
        upto = self.last_id
        subscriber.floor = upto if after is None else max(after, upto)
        try:
            if after is not None and after < upto:
                async for event in self._replay(subscriber, after, upto):
                    yield event
            while True:
                yield await subscriber.next()
        finally:
            self._unregister(subscriber)
