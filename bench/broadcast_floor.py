"""The broadcast floor: a bare WebSocket broadcast of our subscription payload.

What Python can do at best on this stack (Starlette routing, uvicorn with uvloop,
httptools and its default WebSocket implementation, one worker, no permessage-deflate,
exactly as ``ordercenter serve`` runs): no GraphQL, no database, no hub, no
per-subscriber queue or task. Its graphql-transport-ws is just enough for
bench/subscriptions.py's client (and any well-behaved one):

- subprotocol ``graphql-transport-ws`` required (else the handshake is refused, 403);
- ``connection_init`` -> ``connection_ack`` (any payload; the token is not checked);
  a second one closes with 4429; ``subscribe`` before it closes with 4401;
- ``subscribe`` registers the operation id (a duplicate id closes with 4409);
  ``complete`` unregisters it; ``ping`` -> ``pong``; anything else closes with 4400.

``POST /publish`` (body optional: ``{"toStatus": "...", "extensions": ...}``) makes
one event (cursor: a counter, encoded as ours; occurredAt: now, UTC,
``datetime.isoformat()`` as ours)
and sends ``{"id": <op id>, "type": "next", "payload": {"data": {"orderStatusChanged":
{"cursor", "toStatus", "occurredAt"}}, "extensions": ...}}`` - byte for byte the frame
our server sends for bench.subscriptions.SUBSCRIPTION - to every subscriber. The
payload is serialized once with orjson; the frame is spliced once per distinct
operation id (every bench subscriber uses "1", so one string for all), then handed to
each socket's ASGI send, which with uvicorn's sans-I/O implementation writes the
frame to the transport at once (nothing awaits unless a client stopped reading). It
answers ``{"subscribers": n, "cursor": "..."}`` once every frame is queued.
``GET /healthz`` answers ok.

    python -m bench.broadcast_floor --port 8001
"""

from __future__ import annotations

import argparse
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

from bench.shapes import cursor as event_cursor

PROTOCOL = "graphql-transport-ws"
# What ours adds to each subscription result (the cost extension, default limits).
EXTENSIONS: Any = {"cost": {"requested": 1, "maximum": 10000}}
STATUSES = ("AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED")
ACK = {"type": "websocket.send", "text": '{"type":"connection_ack","payload":null}'}
PONG = {"type": "websocket.send", "text": '{"type":"pong"}'}


class Broadcaster:
    """Subscribers grouped by operation id: op id -> {connection's send: None}."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[Send, None]] = {}
        self.count = 0
        self._cursor = itertools.count(1)

    def add(self, op_id: str, send: Send) -> None:
        group = self.groups.setdefault(op_id, {})
        if send not in group:
            group[send] = None
            self.count += 1

    def remove(self, op_id: str, send: Send) -> None:
        group = self.groups.get(op_id)
        if group is not None and group.pop(send, 0) is None:
            self.count -= 1
            if not group:
                del self.groups[op_id]

    async def publish(self, to_status: str, extensions: Any) -> tuple[int, str]:
        number = next(self._cursor)
        cursor = event_cursor("orderEvents", number, number)
        event = {
            "cursor": cursor,
            "toStatus": to_status,
            "occurredAt": datetime.now(UTC).isoformat(),
        }
        payload: dict[str, Any] = {"data": {"orderStatusChanged": event}}
        if extensions is not None:
            payload["extensions"] = extensions
        # '{"type":"next","payload":{...}}' -> '{"id":<id>,' + '"type":"next",...}'
        tail = orjson.dumps({"type": "next", "payload": payload})[1:]
        sent = 0
        for op_id, group in list(self.groups.items()):
            frame = (b'{"id":' + orjson.dumps(op_id) + b"," + tail).decode()
            message = {"type": "websocket.send", "text": frame}
            for send in list(group):
                sent += 1
                try:
                    await send(message)
                except (OSError, RuntimeError):  # gone: its endpoint unregisters it
                    sent -= 1
        return sent, cursor


class Connection:
    __slots__ = ("initialised", "operations", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.initialised = False
        self.operations: set[str] = set()


class TransportWS:
    """The /graphql WebSocket endpoint as a plain ASGI app (graphql-transport-ws)."""

    def __init__(self, hub: Broadcaster) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if PROTOCOL not in scope.get("subprotocols", ()):
            await send({"type": "websocket.close", "code": 1002})  # refused: 403
            return
        await send({"type": "websocket.accept", "subprotocol": PROTOCOL})
        connection = Connection(send)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                reply = self.handle(connection, message)
                if reply is not None:
                    await send(reply)
                    if reply["type"] == "websocket.close":
                        return
        finally:
            for op_id in connection.operations:
                self.hub.remove(op_id, send)

    def handle(self, connection: Connection, message: Message) -> Message | None:
        """The ASGI message to answer a client message with (None: nothing)."""
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        try:
            parsed = orjson.loads(raw)
            kind = parsed["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _close(4400, "Invalid message")
        if kind == "connection_init":
            if connection.initialised:
                return _close(4429, "Too many initialisation requests")
            connection.initialised = True
            return ACK
        if kind == "ping":
            return PONG
        if kind == "pong":
            return None
        if not connection.initialised:
            return _close(4401, "Unauthorized")
        op_id = parsed.get("id")
        if not isinstance(op_id, str):
            return _close(4400, "Invalid message")
        if kind == "subscribe":
            if op_id in connection.operations:
                return _close(4409, f"Subscriber for {op_id} already exists")
            connection.operations.add(op_id)
            self.hub.add(op_id, connection.send)
            return None
        if kind == "complete":
            if op_id in connection.operations:
                connection.operations.discard(op_id)
                self.hub.remove(op_id, connection.send)
            return None
        return _close(4400, "Invalid message")


def _close(code: int, reason: str) -> Message:
    return {"type": "websocket.close", "code": code, "reason": reason}


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def app_factory() -> Starlette:
    hub = Broadcaster()

    async def publish(request: Request) -> Response:
        body = await request.body()
        args = orjson.loads(body) if body else {}
        to_status = str(args.get("toStatus") or STATUSES[0])
        sent, cursor = await hub.publish(to_status, args.get("extensions", EXTENSIONS))
        return _json({"subscribers": sent, "cursor": cursor})

    async def healthz(_: Request) -> Response:
        return _json({"status": "ok", "subscribers": hub.count})

    return Starlette(
        routes=[
            WebSocketRoute("/graphql", TransportWS(hub)),
            Route("/publish", publish, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve(host: str, port: int, log_level: str = "warning") -> None:
    """uvicorn as ``ordercenter serve`` runs it (app/cli.py ``_serve``), one worker."""
    import uvicorn

    uvicorn.run(
        "bench.broadcast_floor:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=1,
        log_level=log_level,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast_floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="warning")
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port, arguments.log_level)
