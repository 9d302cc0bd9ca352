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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.engine import read_options
from db.models import Order, OrderEvent
from resolvers.subscriptions.checks import SharedReads

log = logging.getLogger("ordercenter.hub")

Sessions = Callable[[], AsyncSession]
READ_BATCH = 1000
TURN_EVERY = 64  # offers between turns of the event loop


# Every event after ``after``, oldest first, with its order: what each wake-up reads.
# Built once (its cache key with it): built per read, it was a third of a read's CPU.
_NEW_EVENTS = (
    select(OrderEvent, Order)
    .join(Order, col(Order.id) == col(OrderEvent.order_id))
    .where(col(OrderEvent.id) > bindparam("after"))
    .order_by(col(OrderEvent.id))
    .limit(READ_BATCH)
)


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
    # The event's id, read once: an ORM attribute read costs more than the rest of
    # what each of its thousand subscribers does with it in ``offer``.
    id: int = field(init=False)
    # When the event was made (Unix time), read once for every subscriber's lag metric.
    created: float = field(init=False)
    # Its kind (``domain.order_events``), read once: subscribers choose by it.
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.id = self.event.id or 0
        self.created = self.event.occurred_at.timestamp()
        self.kind = self.event.kind


class SlowConsumer(Exception):
    """A subscriber's queue overflowed; it must resume from its last cursor."""


@dataclass(eq=False, slots=True)
class Subscriber:
    """One live subscription: what it wants, and a bounded queue of what it gets.

    Registered with its hub as it is made (``SubscriptionHub.open``); ``next()`` gives
    the stored events it asked to resume after, then live ones. A list and one future
    rather than an asyncio.Queue (four deques, an Event, its own futures), or even a
    deque (760 bytes before the first event): thousands of these sit idle per process.
    """

    hub: SubscriptionHub
    user_id: int | None
    order_id: int | None
    capacity: int
    # The event kinds it follows; None: every kind.
    kinds: frozenset[str] | None = None
    pending: list[Delivery] = field(default_factory=list)
    waiter: asyncio.Future[None] | None = None
    floor: int = 0  # deliver only ids above this (the replay already covered the rest)
    overflowed: bool = False
    # Stored events in (replay_after, replay_upto] still to be read, a page at a time.
    replay_after: int = 0
    replay_upto: int = 0
    replayed: list[Delivery] | None = None  # the page being handed out, newest first
    last: int | None = None  # the cursor of the last event handed out (or resumed after)
    # Set by a consumer that can hand an event out at once (True) while it is parked in
    # ``ready`` with nothing queued: then the event costs it no wake-up of its own.
    direct: Callable[[Delivery], bool] | None = None

    def offer(self, delivery: Delivery) -> None:
        """Hand out or queue an event of a kind it follows (the hub offers it no other:
        ``SubscriptionHub.drain``)."""
        if self.overflowed or delivery.id <= self.floor:
            return
        waiter = self.waiter
        if (
            self.direct is not None
            and waiter is not None
            and not waiter.done()
            and not self.pending
            and self.direct(delivery)
        ):
            self.last = delivery.id
            return
        if len(self.pending) >= self.capacity:
            self.overflowed = True
        else:
            self.pending.append(delivery)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def replaying(self) -> bool:
        return self.replayed is not None or self.replay_after < self.replay_upto

    def take(self) -> Delivery | None:
        """The next live delivery if one is queued; None if there is none yet (or the
        replay comes first: ``next``). What was queued before an overflow still goes
        out before SlowConsumer."""
        if self.replaying:
            return None
        if self.pending:
            delivery = self.pending.pop(0)
            self.last = delivery.id
            return delivery
        if self.overflowed:
            raise SlowConsumer
        return None

    def ready(self) -> asyncio.Future[None]:
        """Done once something is offered: await it, then ``take``. A bare future rather
        than a coroutine: an idle subscriber holds nothing more between events."""
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    async def next(self) -> Delivery:
        """The next delivery: replayed ones first, then live ones."""
        if self.replaying:
            replayed = await self._next_replayed()
            if replayed is not None:
                self.last = replayed.id
                return replayed
        while (delivery := self.take()) is None:
            await self.ready()
        return delivery

    async def _next_replayed(self) -> Delivery | None:
        while not self.replayed:
            if self.replay_after >= self.replay_upto:
                self.replayed = None
                return None
            page = await self.hub._replay_page(self, self.replay_after, self.replay_upto)
            # A short page is the last one.
            last = page[-1].id if len(page) == READ_BATCH else self.replay_upto
            page.reverse()
            self.replayed = page
            # Done with the table once this page is handed out (replay_after == upto).
            self.replay_after = last
        delivery = self.replayed.pop()
        if not self.replayed and self.replay_after >= self.replay_upto:
            self.replayed = None
        return delivery

    def close(self) -> None:
        """Unregister (again is harmless): nothing more is queued for it."""
        self.direct = None
        self.hub._unregister(self)


# One order's (or buyer's) subscribers, by the kinds they follow (None: every kind).
Groups = dict[frozenset[str] | None, set[Subscriber]]


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
        # Per order (or buyer) its subscribers, grouped by the kinds they follow: an
        # event is offered only to the groups that follow its kind, so the subscribers
        # of other kinds cost it nothing (a status change comes with a scan or a
        # payment event, which thousands of orderStatusChanged subscribers skip).
        self._by_order: dict[int, Groups] = {}
        self._by_user: dict[int, Groups] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._nudge = asyncio.Event()
        self.reads = 0  # table reads so far: one per wake-up, whatever the subscriber count
        # What every subscribe reads before it opens a subscriber, shared between them.
        self.checks = SharedReads(sessions)

    @property
    def subscriber_count(self) -> int:
        return sum(
            len(group)
            for index in (self._by_order, self._by_user)
            for groups in index.values()
            for group in groups.values()
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
            rows = await self._rows(_NEW_EVENTS, {"after": self.last_id})
            self.reads += 1
            offered = 0
            for event, order in rows:
                delivery = Delivery(event, order)
                # Advanced before it is handed out: a subscriber that registers while
                # that takes turns of the loop (below) replays this event instead.
                self.last_id = max(self.last_id, delivery.id)
                kind = delivery.kind
                wanted = [
                    subscriber
                    for groups in (
                        self._by_order.get(event.order_id),
                        self._by_user.get(order.user_id),
                    )
                    if groups
                    for kinds, group in groups.items()
                    if kinds is None or kind in kinds
                    for subscriber in group
                ]
                for subscriber in wanted:
                    subscriber.offer(delivery)
                    offered += 1
                    if offered % TURN_EVERY == 0:
                        # Thousands of subscribers woken at once would each run before
                        # anything else: requests (the next status change among them)
                        # would wait for the whole fan-out, and the database with them.
                        await asyncio.sleep(0)
            if len(rows) < READ_BATCH:
                return

    def _register(self, subscriber: Subscriber) -> None:
        if subscriber.order_id is not None:
            groups = self._by_order.setdefault(subscriber.order_id, {})
        elif subscriber.user_id is not None:
            groups = self._by_user.setdefault(subscriber.user_id, {})
        else:
            return
        groups.setdefault(subscriber.kinds, set()).add(subscriber)

    def _unregister(self, subscriber: Subscriber) -> None:
        for index, key in (
            (self._by_order, subscriber.order_id),
            (self._by_user, subscriber.user_id),
        ):
            if key is None or (groups := index.get(key)) is None:
                continue
            group = groups.get(subscriber.kinds)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del groups[subscriber.kinds]
            if not groups:
                del index[key]

    async def _replay_page(self, subscriber: Subscriber, after: int, upto: int) -> list[Delivery]:
        """Up to a page of stored events in (after, upto] for this subscriber, oldest first."""
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
        if subscriber.kinds is not None:
            statement = statement.where(col(OrderEvent.kind).in_(sorted(subscriber.kinds)))
        return [Delivery(event, order) for event, order in await self._rows(statement)]

    async def _rows(
        self, statement: Select[OrderEvent, Order], parameters: dict[str, Any] | None = None
    ) -> list[Any]:
        """The (event, order) rows of one read. One statement sees what has committed
        when it starts, as a transaction of its own would: it runs without one (no
        BEGIN, and on SQLite three hops to its thread fewer, a third of a read)."""
        async with self._sessions() as session:
            bind = session.bind
            if bind is not None:
                await session.connection(execution_options=read_options(bind.dialect.name))
            return list((await session.execute(statement, parameters)).all())

    def open(
        self,
        *,
        user_id: int | None,
        order_id: int | None,
        after: int | None,
        kinds: frozenset[str] | None = None,
    ) -> Subscriber:
        """A subscriber to events (of ``kinds``, or every kind) for one order (or all of
        a buyer's orders), registered now: replayed after ``after``, then live, with no
        gap and no duplicate at the seam. ``close()`` it when done."""
        subscriber = Subscriber(self, user_id, order_id, self.queue_size, kinds, last=after)
        # Registered before reading last_id, with no await between: every event above
        # `upto` reaches the queue, every one at or below it comes from the replay.
        self._register(subscriber)
        upto = self.last_id
        subscriber.floor = upto if after is None else max(after, upto)
        if after is not None and after < upto:
            subscriber.replay_after, subscriber.replay_upto = after, upto
        return subscriber

    async def subscribe(
        self,
        *,
        user_id: int | None,
        order_id: int | None,
        after: int | None,
        kinds: frozenset[str] | None = None,
    ) -> AsyncIterator[Delivery]:
        """``open``, as an async iterator: registered when first iterated, unregistered
        when closed."""
        subscriber = self.open(user_id=user_id, order_id=order_id, after=after, kinds=kinds)
        try:
            while True:
                yield await subscriber.next()
        finally:
            subscriber.close()
