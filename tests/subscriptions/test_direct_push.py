"""The hub's direct hand-out (``Subscriber.direct``) and the lane's finishing of a frame
the server held back (``internals.resume``): by hand, then in-process over ASGI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from db.engine import SessionFactory
from domain.order_status import OrderStatus
from internals import resume as _resume
from resolvers.ids import to_global_id
from resolvers.subscriptions import hub as hub_module
from resolvers.subscriptions.cursors import event_cursor
from resolvers.subscriptions.hub import Delivery, Subscriber
from tests.conftest import token_for
from tests.subscriptions.asgi_ws import AsgiSocket, add_events, running_app, until, until_subscribed
from tests.subscriptions.test_direct_lane import NEXT, SMALL, buyer_with_order, event


def _delivery(event_id: int) -> Delivery:
    return Delivery(
        cast(
            Any, SimpleNamespace(id=event_id, occurred_at=datetime.now(UTC), kind="STATUS_CHANGED")
        ),
        cast(Any, None),
    )


def _subscriber(direct: Any) -> Subscriber:
    subscriber = Subscriber(cast(Any, None), user_id=1, order_id=None, capacity=4)
    subscriber.direct = direct
    return subscriber


async def test_a_parked_subscriber_gets_the_event_without_being_woken() -> None:
    handed: list[int] = []
    subscriber = _subscriber(lambda delivery: handed.append(delivery.id) is None)
    waiter = subscriber.ready()
    subscriber.offer(_delivery(1))
    assert handed == [1]
    assert subscriber.pending == []
    assert subscriber.last == 1
    assert not waiter.done()  # still parked: nothing to wake up for


async def test_what_is_queued_or_refused_goes_through_the_queue_in_order() -> None:
    handed: list[int] = []
    accept = False

    def direct(delivery: Delivery) -> bool:
        if accept:
            handed.append(delivery.id)
        return accept

    subscriber = _subscriber(direct)
    waiter = subscriber.ready()
    subscriber.offer(_delivery(1))  # refused: queued, and the consumer woken for it
    assert waiter.done()
    assert [d.id for d in subscriber.pending] == [1]
    accept = True
    subscriber.offer(_delivery(2))  # not parked: queued behind 1
    subscriber.ready()
    subscriber.offer(_delivery(3))  # parked, but 1 and 2 are still queued
    assert handed == []
    assert [d.id for d in subscriber.pending] == [1, 2, 3]


async def test_a_frame_held_back_by_the_server_is_finished_as_if_awaited() -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    written: list[str] = []

    async def send(text: str) -> None:
        await gate  # as a server waits while the client does not read
        written.append(text)

    sending = send("frame")
    held = sending.send(None)
    finishing = asyncio.ensure_future(_resume(sending, held))
    await asyncio.sleep(0)
    assert written == []
    assert not finishing.done()
    gate.set_result(None)
    await finishing
    assert written == ["frame"]


async def test_a_held_back_frame_that_fails_fails_its_awaiter() -> None:
    gate = asyncio.get_running_loop().create_future()

    async def send() -> None:
        await gate
        raise ConnectionResetError

    sending = send()
    finishing = asyncio.ensure_future(_resume(sending, sending.send(None)))
    gate.set_result(None)
    with pytest.raises(ConnectionResetError):
        await finishing


class Gated(asyncio.Queue[dict[str, Any]]):
    """An ASGI send that holds frames back while its gate is shut, as a server does for
    a client that stops reading; it notes which task each send ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.senders: list[str] = []

    async def put(self, item: dict[str, Any]) -> None:
        task = asyncio.current_task()
        self.senders.append("" if task is None else task.get_name())
        await self.gate.wait()
        await super().put(item)


class GatedSocket(AsgiSocket):
    def outbox(self) -> asyncio.Queue[dict[str, Any]]:
        self.gated = Gated()
        return self.gated


async def test_frames_held_back_after_a_direct_hand_out_go_out_once_and_in_order(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A turn of the loop after every offer: the first subscriber offered renders the
    # event before the second is offered it, which then gets it from the hub directly.
    monkeypatch.setattr(hub_module, "TURN_EVERY", 1)
    buyer, _, order = await buyer_with_order(sessions)
    assert order.id is not None
    assert buyer.id is not None
    async with running_app(settings, engine) as app:
        await app.state.hub.drain()
        sockets = [await GatedSocket.open(app, token_for(buyer.id)) for _ in range(2)]
        try:
            for socket in sockets:
                await socket.subscribe("1", SMALL, {"id": to_global_id("Order", order.id)})
            await until_subscribed(app.state.hub, 2)
            for socket in sockets:
                socket.gated.gate.clear()
                socket.gated.senders.clear()
            burst = [event(order, OrderStatus.IN_TRANSIT, 3 + i) for i in range(3)]
            ids = await add_events(app, sessions, *burst)
            await until(
                lambda: any("hub-drain" in s.gated.senders for s in sockets),
                "a frame handed out by the hub, held back",
            )
            await asyncio.sleep(0.05)  # the rest of the burst queues behind it
            for socket in sockets:
                socket.gated.gate.set()
            for socket in sockets:
                for event_id in ids:
                    assert await socket.recv() == NEXT % ("1", event_cursor(event_id), "IN_TRANSIT")
            await asyncio.sleep(0.05)
            assert [socket.pending() for socket in sockets] == [0, 0]
        finally:
            for socket in sockets:
                await socket.close()
