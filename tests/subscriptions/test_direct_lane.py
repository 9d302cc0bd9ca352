"""graphql-transport-ws subscriptions on the direct lane (resolvers/subscriptions/lane.py),
in-process: the app over ASGI messages (tests/subscriptions/asgi_ws.py), events committed
straight into order_events and announced on the in-process bus.

Once subscribed, an operation holds no GraphQL pipeline; each event is rendered once per
viewer and document; and every frame is, byte for byte, what the pipeline sent before.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import graphql
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from app.settings import Settings
from app.ws import TransportWSHandler
from db.engine import SessionFactory
from db.models import Order, OrderEvent, User
from domain.order_status import OrderStatus
from resolvers.context import Context
from resolvers.ids import to_global_id
from resolvers.subscriptions.cursors import event_cursor
from resolvers.subscriptions.lane import Lane, current_lane
from schema.definition import build_schema
from schema.limits import ReleaseReads
from tests.conftest import StatementCounter, token_for
from tests.factories import make_order, make_product, make_shop, make_user
from tests.subscriptions.asgi_ws import (
    AsgiSocket,
    add_events,
    running_app,
    until,
    until_subscribed,
)

SMALL = """subscription($id: ID, $after: String) {
  orderStatusChanged(orderId: $id, after: $after) { cursor toStatus }
}"""
WHO_LOOKS = """subscription($id: ID) {
  orderStatusChanged(orderId: $id) { cursor order { status availableActions items { title } } }
}"""
# What the pipeline sent for SMALL, byte for byte (its cost: 1 of at most 10000).
NEXT = (
    '{"id":"%s","type":"next","payload":{"data":{"orderStatusChanged":'
    '{"cursor":"%s","toStatus":"%s"}},"extensions":{"cost":{"requested":1,"maximum":10000}}}}'
)
ENDED = (
    '{"id":"%s","type":"next","payload":{"data":null,"errors":[{"message":"%s",'
    '"extensions":{"code":"%s"%s}}],"extensions":{"cost":{"requested":1,"maximum":10000}}}}'
)
COMPLETE = '{"id":"%s","type":"complete"}'


def live(kind: type) -> list[Any]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, kind)]


def event(order: Order, to_status: OrderStatus, version: int) -> OrderEvent:
    assert order.id is not None
    return OrderEvent(
        order_id=order.id, to_status=to_status.value, order_version=version, actor="SELLER"
    )


async def event_ids(sessions: SessionFactory, order: Order) -> list[int]:
    async with sessions() as session:
        found = await session.execute(
            select(col(OrderEvent.id))
            .where(col(OrderEvent.order_id) == order.id)
            .order_by(col(OrderEvent.id))
        )
        return [int(event_id) for event_id in found.scalars()]


async def buyer_with_order(sessions: SessionFactory) -> tuple[User, User, Order]:
    """A buyer, the seller of the shop, and one AWAITING_SHIPMENT order (2 events)."""
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    products = [await make_product(sessions, shop=shop) for _ in range(2)]
    order = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=products,
        status=OrderStatus.AWAITING_SHIPMENT,
    )
    return buyer, seller, order


def pipeline_of(context: object) -> list[Any]:
    """What of a GraphQL pipeline is alive for this connection's context."""
    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if (isinstance(o, ExecutionContext) and o.context is context)
        or (isinstance(o, SchemaExtensionsRunner) and o.execution_context.context is context)
        or (isinstance(o, graphql.Executor) and o.context_value is context)
    ]


async def test_an_idle_subscription_holds_no_graphql_pipeline(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            context = socket.context
            await socket.subscribe("1", SMALL, {})
            await until_subscribed(app.state.hub, 1)
            # The subscribe-time pipeline (extensions, execution context, graphql-core's
            # executor) is gone once the transport serves the subscription.
            await until(lambda: not pipeline_of(context), "the pipeline to end")
            (handler,) = [h for h in live(TransportWSHandler) if h.context is context]
            (operation,) = handler.operations.values()
            assert operation.task is not None
            assert not operation.task.done()
            # Nor anything else an idle connection would hold for good.
            assert handler.connection_init_timeout_task is None
            assert context.connection_params is None
            # Nor the subscribe's own context (its loaders, scheduler and reads): only the
            # connection's is left.
            await until(
                lambda: (
                    [c for c in live(Context) if c.request_id == context.request_id] == [context]
                ),
                "only the connection's context to be left",
            )
            # And it is live.
            (shipped,) = await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            assert await socket.recv() == NEXT % ("1", event_cursor(shipped), "IN_TRANSIT")
        finally:
            await socket.close()
        assert app.state.hub.subscriber_count == 0


async def test_frames_are_byte_for_byte_what_the_pipeline_sent(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    _, _, theirs = await buyer_with_order(sessions)
    assert order.id is not None
    assert theirs.id is not None
    mine = to_global_id("Order", order.id)
    limited = settings.model_copy(update={"subscriber_queue_size": 2})
    async with running_app(limited, engine) as app:
        await app.state.hub.drain()  # the hub has seen the order's first two events
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            # Someone else's order: an error on that operation only, then complete.
            await socket.subscribe("theirs", SMALL, {"id": to_global_id("Order", theirs.id)})
            not_found = ("theirs", "No such order.", "NOT_FOUND", ',"argument":"orderId"')
            assert await socket.recv() == ENDED % not_found
            assert await socket.recv() == COMPLETE % "theirs"
            # Replayed after a cursor, then live.
            await socket.subscribe("1", SMALL, {"id": mine, "after": "0"})
            placed, paid = await event_ids(sessions, order)
            assert await socket.recv() == NEXT % ("1", event_cursor(placed), "UNPAID")
            assert await socket.recv() == NEXT % ("1", event_cursor(paid), "AWAITING_SHIPMENT")
            (shipped,) = await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            assert await socket.recv() == NEXT % ("1", event_cursor(shipped), "IN_TRANSIT")
            # Five at once for a queue of two: the two it holds, then the end.
            burst = [event(order, OrderStatus.IN_TRANSIT, 4 + i) for i in range(5)]
            first, second, *_ = await add_events(app, sessions, *burst)
            assert await socket.recv() == NEXT % ("1", event_cursor(first), "IN_TRANSIT")
            assert await socket.recv() == NEXT % ("1", event_cursor(second), "IN_TRANSIT")
            too_slow = (
                "Too slow: events were arriving faster than you read them. "
                f'Resume with after: \\"{event_cursor(second)}\\".'
            )
            assert await socket.recv() == ENDED % ("1", too_slow, "SLOW_CONSUMER", "")
            assert await socket.recv() == COMPLETE % "1"
            await until_subscribed(app.state.hub, 0)
        finally:
            await socket.close()


async def test_each_event_renders_once_per_viewer_and_document(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    count_statements: StatementCounter,
) -> None:
    buyer, seller, order = await buyer_with_order(sessions)
    assert order.id is not None
    variables = {"id": to_global_id("Order", order.id)}
    async with running_app(settings, engine) as app:
        buyers = [await AsgiSocket.open(app, token_for(buyer.id)) for _ in range(3)]
        sellers = [await AsgiSocket.open(app, token_for(seller.id))]
        try:
            for socket in buyers:  # two operations on each connection
                for op_id in ("a", "b"):
                    await socket.subscribe(op_id, WHO_LOOKS, variables)
            await sellers[0].subscribe("s", WHO_LOOKS, variables)
            await until_subscribed(app.state.hub, 7)
            count_statements.reset()
            await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            frames = [await socket.recv() for socket in buyers for _ in range(2)]
            by_seller = await sellers[0].recv()
        finally:
            for socket in buyers + sellers:
                await socket.close()
    ids = [frame.split('"', 4)[3] for frame in frames]
    assert sorted(ids) == ["a", "a", "a", "b", "b", "b"]
    # Each operation gets it under its own id; a viewer's all alike, the seller's not.
    bodies = {
        frame.replace(f'"id":"{op_id}"', '"id":"?"')
        for frame, op_id in zip(frames, ids, strict=True)
    }
    assert len(bodies) == 1
    assert by_seller.replace('"id":"s"', '"id":"?"') not in bodies
    assert '"availableActions":["CANCEL"]' in frames[0]
    # One read by the hub, then the items once per viewer, not per operation.
    item_reads = [s for s in count_statements.statements if "FROM order_items" in s]
    assert len(item_reads) == 2, count_statements.statements


async def test_complete_ends_a_subscription_on_the_lane_and_frees_its_id(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    async with running_app(settings, engine) as app:
        hub = app.state.hub
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            await socket.subscribe("1", SMALL, {})
            await until_subscribed(hub, 1)
            await socket.send({"id": "1", "type": "complete"})
            await until_subscribed(hub, 0)
            await socket.subscribe("1", SMALL, {})  # the same id again, a new operation
            await until_subscribed(hub, 1)
            (cancelled,) = await add_events(app, sessions, event(order, OrderStatus.CANCELLED, 3))
            assert await socket.recv() == NEXT % ("1", event_cursor(cancelled), "CANCELLED")
            assert socket.pending() == 0  # nothing from the one that was stopped
        finally:
            await socket.close()
        assert hub.subscriber_count == 0


class SeesEveryField(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


@pytest.mark.parametrize(
    ("extensions", "offered"), [([], True), ([SeesEveryField()], False)], ids=["plain", "resolve"]
)
def test_the_lane_is_offered_only_when_no_extension_wraps_resolvers(
    extensions: list[SchemaExtension], offered: bool
) -> None:
    # A shared rendering would run a resolve hook once for every operation of a key.
    schema = build_schema()
    lane = Lane("1")
    token = current_lane.set(lane)
    try:
        execution = ExecutionContext(query=None, schema=schema, allowed_operations=())
        runner = schema.create_extensions_runner(execution, [*schema.get_extensions(), *extensions])
    finally:
        current_lane.reset(token)
    assert (lane.pipeline is runner) is offered


async def test_a_pipeline_failing_after_the_hand_over_leaves_no_subscriber_behind(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer, _, _ = await buyer_with_order(sessions)

    async def fails_on_the_way_out(self: ReleaseReads) -> AsyncIterator[None]:
        yield
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ReleaseReads, "on_operation", fails_on_the_way_out)
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            await socket.subscribe("1", SMALL, {})
            # What Strawberry does with a failed operation task: complete, and gone.
            assert await socket.recv() == COMPLETE % "1"
            await until_subscribed(app.state.hub, 0)
        finally:
            await socket.close()


async def test_variables_orjson_cannot_write_do_not_break_the_subscription(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            # An extra variable the operation does not use: ignored, as GraphQL says.
            await socket.subscribe("1", SMALL, {"unused": 10**30})
            await until_subscribed(app.state.hub, 1)
            (shipped,) = await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            assert await socket.recv() == NEXT % ("1", event_cursor(shipped), "IN_TRANSIT")
        finally:
            await socket.close()
