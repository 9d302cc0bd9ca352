"""The subscription hub in-process: its bounded queues and the replay/live seam.

No server: the hub is driven by hand (``drain()``), so every step is deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from db.engine import SessionFactory
from db.models import OrderEvent
from domain.order_events import STATUS_CHANGES, OrderEventKind
from domain.order_status import OrderStatus
from resolvers.subscriptions import hub as hub_module
from resolvers.subscriptions.hub import SlowConsumer, SubscriptionHub
from tests.factories import make_order, make_product, make_shop, make_user


class NoWakeUps:
    async def listen(self) -> AsyncIterator[object]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover


async def _order(sessions: SessionFactory, status: OrderStatus) -> int:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)
    assert order.id is not None
    return order.id


async def test_a_full_queue_cuts_the_subscriber_off_after_what_it_holds(
    sessions: SessionFactory,
) -> None:
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=2)
    buyer = await make_user(sessions)
    assert buyer.id is not None
    events = hub.subscribe(user_id=buyer.id, order_id=None, after=None)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # registered, now waiting on its queue
    assert hub.subscriber_count == 1
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.COMPLETED
    )
    await hub.drain()  # six events at once, for a queue of two
    delivered = [await asyncio.wait_for(first, 5), await asyncio.wait_for(anext(events), 5)]
    assert [d.event.to_status for d in delivered] == ["UNPAID", "AWAITING_SHIPMENT"]
    # Each event comes with its order, read in the same batch.
    assert {d.order.user_id for d in delivered} == {buyer.id}
    with pytest.raises(SlowConsumer):
        await asyncio.wait_for(anext(events), 5)
    assert hub.subscriber_count == 0  # unregistered on the way out


async def test_replay_then_live_without_gap_or_duplicate(sessions: SessionFactory) -> None:
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=2)
    order_id = await _order(sessions, OrderStatus.IN_TRANSIT)  # four events
    await hub.drain()  # the hub has seen them
    events = hub.subscribe(user_id=None, order_id=order_id, after=0)
    received = [(await asyncio.wait_for(anext(events), 5)).event]  # registered at the seam
    # A change commits while the replay is still going: it arrives once, after it.
    async with sessions() as session:
        session.add(
            OrderEvent(
                order_id=order_id,
                from_status="IN_TRANSIT",
                to_status="DELIVERED",
                order_version=5,
                actor="SELLER",
            )
        )
        await session.commit()
    await hub.drain()
    received += [(await asyncio.wait_for(anext(events), 5)).event for _ in range(4)]
    assert [e.order_version for e in received] == [1, 2, 3, 4, 5]
    ids = [e.id for e in received]
    assert ids == sorted(set(ids))
    await events.aclose()  # type: ignore[attr-defined]
    assert hub.subscriber_count == 0


async def test_open_registers_at_once_and_close_unregisters(sessions: SessionFactory) -> None:
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=2)
    buyer = await make_user(sessions)
    subscriber = hub.open(user_id=buyer.id, order_id=None, after=None)
    # No await in between: an event committed from now on reaches it.
    assert hub.subscriber_count == 1
    assert subscriber.last is None
    subscriber.close()
    subscriber.close()  # again: harmless
    assert hub.subscriber_count == 0


async def test_replay_reads_page_by_page_then_goes_live(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "READ_BATCH", 2)
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=8)
    order_id = await _order(sessions, OrderStatus.DELIVERED)  # five events: pages 2, 2, 1
    await hub.drain()
    subscriber = hub.open(user_id=None, order_id=order_id, after=0)
    try:
        replayed = [await asyncio.wait_for(subscriber.next(), 5) for _ in range(5)]
        assert [d.event.order_version for d in replayed] == [1, 2, 3, 4, 5]
        assert subscriber.last == replayed[-1].id
        async with sessions() as session:
            session.add(
                OrderEvent(
                    order_id=order_id,
                    from_status="DELIVERED",
                    to_status="COMPLETED",
                    order_version=6,
                    actor="BUYER",
                )
            )
            await session.commit()
        await hub.drain()
        live = await asyncio.wait_for(subscriber.next(), 5)
        assert live.event.order_version == 6
        assert subscriber.last == live.id
        assert subscriber.pending == []
    finally:
        subscriber.close()
    assert hub.subscriber_count == 0


async def test_a_subscriber_of_some_kinds_gets_only_those_in_replay_and_live(
    sessions: SessionFactory,
) -> None:
    """orderStatusChanged follows status changes only; a scan, refund or return step in
    between is neither replayed nor delivered live to it, while a subscriber of every
    kind gets them all, in one order of ids."""
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=16)
    order_id = await _order(sessions, OrderStatus.IN_TRANSIT)  # four status changes

    def step(kind: str, version: int) -> OrderEvent:
        return OrderEvent(
            order_id=order_id,
            from_status="IN_TRANSIT",
            to_status="IN_TRANSIT",
            order_version=version,
            actor="CARRIER",
            kind=kind,
            subject_id=1,
        )

    async with sessions() as session:
        session.add(step(OrderEventKind.CARRIER_SCAN, 4))
        await session.commit()
    await hub.drain()
    statuses = hub.subscribe(user_id=None, order_id=order_id, after=0, kinds=STATUS_CHANGES)
    everything = hub.subscribe(user_id=None, order_id=order_id, after=0)
    replayed = [(await asyncio.wait_for(anext(statuses), 5)).event for _ in range(4)]
    assert [e.kind for e in replayed] == ["STATUS_CHANGED"] * 4
    all_replayed = [(await asyncio.wait_for(anext(everything), 5)).event for _ in range(5)]
    assert [e.kind for e in all_replayed][-1] == "CARRIER_SCAN"
    # Live: a refund, then a status change; the status subscriber sees the change only.
    async with sessions() as session:
        session.add(step(OrderEventKind.REFUNDED, 4))
        session.add(
            OrderEvent(
                order_id=order_id,
                from_status="IN_TRANSIT",
                to_status="DELIVERED",
                order_version=5,
                actor="CARRIER",
            )
        )
        await session.commit()
    await hub.drain()
    live = await asyncio.wait_for(anext(statuses), 5)
    assert (live.event.kind, live.event.to_status) == ("STATUS_CHANGED", "DELIVERED")
    both = [(await asyncio.wait_for(anext(everything), 5)).event.kind for _ in range(2)]
    assert both == ["REFUNDED", "STATUS_CHANGED"]
    await statuses.aclose()  # type: ignore[attr-defined]
    await everything.aclose()  # type: ignore[attr-defined]
    assert hub.subscriber_count == 0
