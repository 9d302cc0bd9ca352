"""One render path for live events, whichever WebSocket protocol carries them.

graphql-transport-ws and the legacy graphql-ws both serve a subscription on the direct
lane once it is subscribed (resolvers/subscriptions/lane.py, app/live_lane.py): the
same payload, byte for byte, for the same event, in each protocol's own frame
(``{"id":..,"type":"next","payload":..}`` and ``{"type":"data","id":..,"payload":..}``),
rendered once for both; replayed events first, then live ones; errors masked alike.

In-process: the app over ASGI messages (tests/subscriptions/asgi_ws.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from db.engine import SessionFactory
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from resolvers.subscriptions.cursors import event_cursor
from resolvers.subscriptions.hub import SubscriptionHub
from tests.conftest import StatementCounter, token_for
from tests.subscriptions.asgi_ws import (
    LEGACY_WS,
    TRANSPORT_WS,
    AsgiSocket,
    add_events,
    running_app,
    until,
    until_subscribed,
)
from tests.subscriptions.test_direct_lane import (
    SMALL,
    buyer_with_order,
    event,
    event_ids,
    pipeline_of,
)

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
REPLAYED_THEN_LIVE = """subscription($id: ID, $after: String) {
  orderStatusChanged(orderId: $id, after: $after) {
    cursor toStatus order { status availableActions items { title } }
  }
}"""


def payload_of(frame: str, protocol: str, op_id: str) -> str:
    """The payload text of a result frame, which must be exactly the protocol's frame."""
    head = (
        f'{{"id":"{op_id}","type":"next","payload":'
        if protocol == TRANSPORT_WS
        else f'{{"type":"data","id":"{op_id}","payload":'
    )
    assert frame.startswith(head), frame
    assert frame.endswith("}")
    return frame[len(head) : -1]


def complete(protocol: str, op_id: str) -> str:
    if protocol == TRANSPORT_WS:
        return f'{{"id":"{op_id}","type":"complete"}}'
    return f'{{"type":"complete","id":"{op_id}"}}'


async def test_both_protocols_get_the_same_payloads_replayed_then_live_rendered_once(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    count_statements: StatementCounter,
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert order.id is not None
    variables = {"id": to_global_id("Order", order.id), "after": "0"}
    async with running_app(settings, engine) as app:
        await app.state.hub.drain()  # the order's first two events are stored, not live
        sockets = [await AsgiSocket.open(app, token_for(buyer.id), p) for p in PROTOCOLS]
        try:
            for socket in sockets:
                await socket.subscribe("1", REPLAYED_THEN_LIVE, variables)
            replayed = {
                p: [await s.recv(), await s.recv()] for p, s in zip(PROTOCOLS, sockets, strict=True)
            }
            await until_subscribed(app.state.hub, 2)
            count_statements.reset()
            (shipped,) = await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            live = {p: await s.recv() for p, s in zip(PROTOCOLS, sockets, strict=True)}
        finally:
            for socket in sockets:
                await socket.close()
    placed, paid, _ = await event_ids(sessions, order)
    by_protocol = {
        p: [payload_of(frame, p, "1") for frame in [*replayed[p], live[p]]] for p in PROTOCOLS
    }
    # Byte for byte the same payloads, in the same order, on both protocols.
    assert by_protocol[LEGACY_WS] == by_protocol[TRANSPORT_WS]
    events = [json.loads(p)["data"]["orderStatusChanged"] for p in by_protocol[LEGACY_WS]]
    cursors = [e["cursor"] for e in events]
    assert cursors == [event_cursor(placed), event_cursor(paid), event_cursor(shipped)]
    payload = json.loads(by_protocol[LEGACY_WS][-1])
    assert payload["data"]["orderStatusChanged"]["toStatus"] == "IN_TRANSIT"
    assert payload["extensions"]["cost"]["requested"] >= 1
    # The live event was rendered once for both operations (one viewer, one document).
    item_reads = [s for s in count_statements.statements if "FROM order_items" in s]
    assert len(item_reads) == 1, count_statements.statements


async def test_an_idle_legacy_subscription_holds_no_graphql_pipeline(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id), LEGACY_WS)
        try:
            context = socket.context
            await socket.subscribe("1", SMALL, {})
            await until_subscribed(app.state.hub, 1)
            await until(lambda: not pipeline_of(context), "the pipeline to end")
            (shipped,) = await add_events(app, sessions, event(order, OrderStatus.IN_TRANSIT, 3))
            payload = json.loads(payload_of(await socket.recv(), LEGACY_WS, "1"))
            assert payload["data"] == {
                "orderStatusChanged": {"cursor": event_cursor(shipped), "toStatus": "IN_TRANSIT"}
            }
        finally:
            await socket.close()
        assert app.state.hub.subscriber_count == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_unexpected_failure_is_masked_then_the_operation_completes(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    protocol: str,
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    assert order.id is not None

    async def fails(*_: Any) -> Any:
        raise RuntimeError("could not reach replica db-internal-7")

    monkeypatch.setattr(SubscriptionHub, "_replay_page", fails)
    async with running_app(settings, engine) as app:
        await app.state.hub.drain()
        socket = await AsgiSocket.open(app, token_for(buyer.id), protocol)
        try:
            variables = {"id": to_global_id("Order", order.id), "after": "0"}
            await socket.subscribe("1", SMALL, variables)
            frame = await socket.recv()
            assert await socket.recv() == complete(protocol, "1")
            await until_subscribed(app.state.hub, 0)
        finally:
            await socket.close()
    assert "db-internal" not in frame
    payload = json.loads(payload_of(frame, protocol, "1"))
    assert payload["data"] is None
    (error,) = payload["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"]
    assert payload["extensions"]["cost"] == {"requested": 1, "maximum": 10000}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_slow_consumer_is_told_where_to_resume_on_either_protocol(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory, protocol: str
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    limited = settings.model_copy(update={"subscriber_queue_size": 2})
    async with running_app(limited, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id), protocol)
        try:
            await socket.subscribe("1", SMALL, {})
            await until_subscribed(app.state.hub, 1)
            burst = [event(order, OrderStatus.IN_TRANSIT, 3 + i) for i in range(5)]
            first, second, *_ = await add_events(app, sessions, *burst)
            got = [json.loads(payload_of(await socket.recv(), protocol, "1")) for _ in range(3)]
            assert await socket.recv() == complete(protocol, "1")
        finally:
            await socket.close()
    assert [g["data"]["orderStatusChanged"]["cursor"] for g in got[:2]] == [
        event_cursor(first),
        event_cursor(second),
    ]
    (error,) = got[2]["errors"]
    assert error["extensions"]["code"] == "SLOW_CONSUMER"
    assert event_cursor(second) in error["message"]


async def test_stop_ends_a_legacy_subscription_on_the_lane_and_frees_its_id(
    settings: Settings, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    buyer, _, order = await buyer_with_order(sessions)
    async with running_app(settings, engine) as app:
        hub = app.state.hub
        socket = await AsgiSocket.open(app, token_for(buyer.id), LEGACY_WS)
        try:
            await socket.subscribe("1", SMALL, {})
            await until_subscribed(hub, 1)
            await socket.stop("1")
            assert await socket.recv() == complete(LEGACY_WS, "1")
            await until_subscribed(hub, 0)
            await socket.subscribe("1", SMALL, {})  # the same id again, a new operation
            await until_subscribed(hub, 1)
            (cancelled,) = await add_events(app, sessions, event(order, OrderStatus.CANCELLED, 3))
            payload = json.loads(payload_of(await socket.recv(), LEGACY_WS, "1"))
            assert payload["data"]["orderStatusChanged"]["cursor"] == event_cursor(cancelled)
            assert socket.pending() == 0  # nothing from the one that was stopped
        finally:
            await socket.close()
        assert hub.subscriber_count == 0
