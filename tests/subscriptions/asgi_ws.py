"""The app in this process, spoken to over ASGI WebSocket messages: no server, no socket,
so a test can look at what a live subscription leaves in memory, drive the hub and read
every frame exactly as the app sent it. Every wait is bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from db.models import OrderEvent
from resolvers.subscriptions.hub import SubscriptionHub

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
KEEP_ALIVE = '{"type":"ka"}'  # graphql-ws's, sent at its start and then now and then
WAIT = 10.0


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class AsgiSocket:
    """One WebSocket connection to the app; frames are the texts it sent, unparsed."""

    def __init__(self, app: Starlette, protocol: str) -> None:
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = self.outbox()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"test"), (b"sec-websocket-protocol", protocol.encode())],
            "subprotocols": [protocol],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self.scope: dict[str, Any] = scope
        self.protocol = protocol
        self.task = asyncio.create_task(app(scope, self._to_app.get, self._from_app.put))

    def outbox(self) -> asyncio.Queue[dict[str, Any]]:
        """Where the app's sends go (its ``put`` is the app's ASGI send)."""
        return asyncio.Queue()

    @classmethod
    async def open(cls, app: Starlette, token: str, protocol: str = TRANSPORT_WS) -> AsgiSocket:
        """Connected and acknowledged."""
        socket = cls(app, protocol)
        await socket._to_app.put({"type": "websocket.connect"})
        accepted = await socket._message()
        assert accepted["type"] == "websocket.accept", accepted
        authorization = {"Authorization": f"Bearer {token}"}
        await socket.send({"type": "connection_init", "payload": authorization})
        ack = {"type": "connection_ack"}
        if protocol == TRANSPORT_WS:
            ack["payload"] = None
        assert json.loads(await socket.recv()) == ack
        return socket

    @property
    def context(self) -> Any:
        """The connection's context, as the app made it."""
        return self.scope["state"]["ordercenter_context"]

    async def _message(self) -> dict[str, Any]:
        return await asyncio.wait_for(self._from_app.get(), WAIT)

    async def send(self, message: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        payload = {"query": query, "variables": variables}
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send({"id": op_id, "type": kind, "payload": payload})

    async def stop(self, op_id: str) -> None:
        """Ends an operation, as the protocol says it ("complete" or "stop")."""
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.send({"id": op_id, "type": kind})

    async def recv(self) -> str:
        """The next text frame, as sent (graphql-ws keep-alives skipped)."""
        while True:
            message = await self._message()
            if message["type"] == "websocket.close":
                raise Closed(message.get("code", 1000))
            text: str = message["text"]
            if text != KEEP_ALIVE:
                return text

    def pending(self) -> int:
        return self._from_app.qsize()

    async def close(self) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, WAIT)


@asynccontextmanager
async def running_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Starlette]:
    """The app with its lifespan (hub, bus) running."""
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        yield app


async def until(condition: Any, what: str) -> None:
    """Wait (bounded) for ``condition()`` to hold."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 (nothing to wait on but the condition)
            await asyncio.sleep(0.005)


async def until_subscribed(hub: SubscriptionHub, count: int) -> None:
    await until(lambda: hub.subscriber_count == count, f"{count} subscribers")


async def add_events(app: Starlette, sessions: SessionFactory, *events: OrderEvent) -> list[int]:
    """Commit these events and wake the hub, as a status change does; their ids."""
    async with sessions() as session:
        session.add_all(events)
        await session.commit()
        ids = [event.id or 0 for event in events]
    await app.state.bus.publish(ids)
    return ids
