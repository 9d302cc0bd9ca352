"""In-process subscribers (``schema.subscribe``, no transport and so no direct lane):
each event runs through Strawberry's own pipeline, with fresh reads, as each viewer
sees it. (Sharing one rendering between subscribers is the lane's: test_direct_lane.py,
test_live_frames.py.)

The hub is driven by hand and the statements the engine sees are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory
from db.models import Order, OrderEvent
from domain.order_status import OrderStatus
from resolvers.context import Context
from resolvers.ids import to_global_id
from resolvers.subscriptions.hub import SubscriptionHub
from schema.definition import schema
from tests.conftest import StatementCounter
from tests.factories import make_order, make_product, make_shop, make_user

QUERY = """
subscription($id: ID) {
  orderStatusChanged(orderId: $id) {
    toStatus orderVersion
    order { status availableActions items { title quantity } }
  }
}
"""


class NoWakeUps:
    async def listen(self) -> AsyncIterator[object]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover


async def _subscribe(
    hub: SubscriptionHub, sessions: SessionFactory, viewer: int, order: str
) -> Any:
    ctx = Context.for_request(viewer_id=viewer, sessions=sessions, hub=hub)
    stream: Any = await schema.subscribe(QUERY, {"id": order}, context_value=ctx)
    # The first step runs the resolver up to its wait on the hub: then it is subscribed.
    before = hub.subscriber_count
    first = asyncio.ensure_future(anext(stream))
    async with asyncio.timeout(5):
        while hub.subscriber_count == before:  # noqa: ASYNC110 (the hub has no event for it)
            await asyncio.sleep(0.01)
    return stream, first


async def test_in_process_subscribers_get_fresh_reads_as_each_viewer_sees_it(
    sessions: SessionFactory, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    products = [await make_product(sessions, shop=shop) for _ in range(2)]
    order = await make_order(
        sessions, buyer=buyer, shop=shop, products=products, status=OrderStatus.UNPAID
    )
    assert buyer.id is not None
    assert seller.id is not None
    assert order.id is not None
    hub = SubscriptionHub(sessions, NoWakeUps(), queue_size=8)
    await hub.start()
    try:
        order_gid = to_global_id("Order", order.id)
        buyers = [await _subscribe(hub, sessions, buyer.id, order_gid) for _ in range(5)]
        sellers = [await _subscribe(hub, sessions, seller.id, order_gid) for _ in range(2)]
        assert hub.subscriber_count == 7

        async with sessions() as session:
            session.add(
                OrderEvent(
                    order_id=order.id,
                    from_status="UNPAID",
                    to_status="AWAITING_SHIPMENT",
                    order_version=2,
                    actor="BUYER",
                )
            )
            # The order moved on since the subscribers' checks read it.
            stored = await session.get(Order, order.id)
            assert stored is not None
            stored.status = OrderStatus.AWAITING_SHIPMENT.value
            await session.commit()
        count_statements.reset()
        await hub.drain()
        results = [await asyncio.wait_for(first, 5) for _, first in buyers + sellers]
    finally:
        for stream, first in buyers + sellers:
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first
            await stream.aclose()
        await hub.stop()

    assert all(r.errors is None for r in results), [r.errors for r in results]
    by_buyer = [r.data for r in results[:5]]
    by_seller = [r.data for r in results[5:]]
    event = by_buyer[0]["orderStatusChanged"]
    assert event["toStatus"] == "AWAITING_SHIPMENT"
    assert event["orderVersion"] == 2
    # The order as the hub read it with the event, not as the subscribe-time checks
    # cached it: nothing of a subscription's loaders outlives an event.
    assert event["order"]["status"] == "AWAITING_SHIPMENT"
    assert len(event["order"]["items"]) == 2
    assert all(data == by_buyer[0] for data in by_buyer)
    assert all(data == by_seller[0] for data in by_seller)
    # What an order offers depends on who looks: never a buyer's answer to a seller.
    assert by_seller[0] != by_buyer[0]
    # One read by the hub (the order with the event: no query of its own), then each
    # subscriber's own execution: an in-process caller shares nothing.
    assert not [s for s in count_statements.statements if "FROM orders" in s]
    item_reads = [s for s in count_statements.statements if "FROM order_items" in s]
    assert len(item_reads) == 7, count_statements.statements
