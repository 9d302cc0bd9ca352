"""A small GraphQL-over-WebSocket client, an HTTP helper and test data, for real servers.

Both protocols: ``graphql-transport-ws`` (subscribe/next/error/complete) and the legacy
``graphql-ws`` (start/data/error/complete). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection

from app.auth import issue_token
from db.engine import create_engine, create_session_factory
from db.models import PaymentMethod, Product, Shop, User
from domain.order_events import STATUS_CHANGES
from resolvers.ids import to_global_id
from resolvers.subscriptions.cursors import event_id_after
from tests.server.serving import SECRET

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
WAIT = 15.0  # seconds: the bound of every single wait in these tests

SUBSCRIPTION = """
subscription($orderId: ID, $after: String) {
  orderStatusChanged(orderId: $orderId, after: $after) {
    cursor fromStatus toStatus orderVersion order { id status }
  }
}
"""
PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id status } userErrors { code message } }
}
"""
PAY = """
mutation($input: PayOrderInput!) {
  payOrder(input: $input) { order { id status } userErrors { code message } }
}
"""
CANCEL = """
mutation($input: CancelOrderInput!) {
  cancelOrder(input: $input) { order { id status } userErrors { code message } }
}
"""
ADDRESS = {
    "name": "Sub Scriber",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "US",
}


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


def token_for(user_id: int, *, ttl_seconds: int = 3600) -> str:
    return issue_token(user_id, secret=SECRET, ttl_seconds=ttl_seconds)


class OperationFailed(Exception):
    """The server ended an operation with errors; ``errors`` holds them."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def messages(self) -> list[str]:
        return [str(error.get("message")) for error in self.errors]


class OperationCompleted(Exception):
    """The server completed an operation that was expected to go on."""


class WsClient:
    """One WebSocket connection speaking either protocol."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    @classmethod
    async def connect(cls, http_url: str, protocol: str = TRANSPORT_WS) -> WsClient:
        ws = await asyncio.wait_for(
            websockets.connect(ws_url(http_url), subprotocols=[protocol], open_timeout=WAIT),  # type: ignore[list-item]
            WAIT,
        )
        assert ws.subprotocol == protocol
        return cls(ws, protocol)

    @classmethod
    async def open(
        cls,
        http_url: str,
        token: str,
        *,
        protocol: str = TRANSPORT_WS,
        key: str = "Authorization",
    ) -> WsClient:
        """Connected and acknowledged."""
        client = await cls.connect(http_url, protocol)
        try:
            await client.init({key: f"Bearer {token}"})
            ack = await client.recv()
            assert ack["type"] == "connection_ack", ack
        except BaseException:
            await client.close()
            raise
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.wait_for(self.ws.send(json.dumps(message)), WAIT)

    async def init(self, payload: dict[str, Any] | None) -> None:
        await self.send({"type": "connection_init", "payload": payload})

    async def recv(self, wait: float = WAIT) -> dict[str, Any]:
        """The next message that is not a keep-alive."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), wait)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] not in ("pong", "ka"):
                return message

    async def subscribe(
        self,
        op_id: str,
        *,
        order_id: str | None = None,
        after: int | str | None = None,
        query: str = SUBSCRIPTION,
    ) -> None:
        variables: dict[str, Any] = {}
        if order_id is not None:
            variables["orderId"] = order_id
        if after is not None:
            variables["after"] = str(after)
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}}
        )

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.send({"id": op_id, "type": kind})

    async def next_event(self, op_id: str, wait: float = WAIT) -> dict[str, Any]:
        """The next event of ``op_id`` (its subscription field's value: orderStatusChanged,
        orderUpdated); raises on errors or completion.

        Messages of other operations on this connection are not expected here.
        """
        message = await self.recv(wait)
        assert message.get("id") == op_id, message
        if message["type"] in ("next", "data"):
            payload = message["payload"]
            if payload.get("errors"):
                raise OperationFailed(payload["errors"])
            (event,) = payload["data"].values()
            assert isinstance(event, dict), payload
            return event
        if message["type"] == "error":
            payload = message["payload"]
            raise OperationFailed(payload if isinstance(payload, list) else [payload])
        if message["type"] == "complete":
            raise OperationCompleted(op_id)
        raise AssertionError(f"unexpected message {message}")

    async def events(self, op_id: str, count: int) -> list[dict[str, Any]]:
        return [await self.next_event(op_id) for _ in range(count)]

    async def closed_code(self, wait: float = WAIT) -> int | None:
        """Wait for the server to close the connection; its close code."""

        async def drain() -> None:
            while True:
                await self.ws.recv()

        try:
            await asyncio.wait_for(drain(), wait)
        except websockets.ConnectionClosed as closed:
            return None if closed.rcvd is None else closed.rcvd.code
        raise AssertionError("unreachable")

    async def recv_or_close(self) -> str | int | None:
        """The type of the next message, or the close code if the server closes."""
        try:
            return str((await self.recv())["type"])
        except websockets.ConnectionClosed as closed:
            return None if closed.rcvd is None else closed.rcvd.code

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a killed client)."""
        assert self.ws.transport is not None
        self.ws.transport.abort()

    async def close(self) -> None:
        await asyncio.wait_for(self.ws.close(), WAIT)


def event_id(cursor: str) -> int:
    """The event id an opaque OrderEvent cursor resumes after."""
    return event_id_after(cursor)


def cursors(events: Sequence[dict[str, Any]]) -> list[int]:
    """The event ids of ``events``' cursors, in the order received."""
    return [event_id(event["cursor"]) for event in events]


class Api:
    """GraphQL over HTTP against one server."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def gql(self, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(
            self.base_url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=WAIT,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def _order_mutation(
        self, token: str, name: str, query: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        payload = (await self.gql(token, query, {"input": fields}))[name]
        assert payload["userErrors"] == [], payload
        order: dict[str, Any] = payload["order"]
        return order

    async def place(self, buyer: Buyer) -> str:
        """A new UNPAID order of ``buyer``; its global id. One event."""
        order = await self._order_mutation(
            buyer.token,
            "placeOrder",
            PLACE,
            {
                "items": [{"productId": buyer.product_id, "quantity": 1}],
                "shippingAddress": ADDRESS,
                "idempotencyKey": uuid.uuid4().hex,
            },
        )
        assert order["status"] == "UNPAID"
        return str(order["id"])

    async def pay(self, buyer: Buyer, order_id: str) -> dict[str, Any]:
        return await self._order_mutation(
            buyer.token,
            "payOrder",
            PAY,
            {
                "orderId": order_id,
                "paymentMethodId": buyer.card_id,
                "idempotencyKey": uuid.uuid4().hex,
            },
        )

    async def cancel(self, token: str, order_id: str) -> dict[str, Any]:
        return await self._order_mutation(token, "cancelOrder", CANCEL, {"orderId": order_id})


@dataclass(frozen=True)
class Buyer:
    user_id: int
    token: str
    product_id: str  # a product with ample stock, sold by ``World.seller``
    card_id: str  # a saved card that always pays


@dataclass(frozen=True)
class World:
    """Fresh users of one test: a seller with a shop and a product, and buyers."""

    seller_id: int
    seller_token: str
    buyers: list[Buyer]


async def make_world(database_url: str, buyers: int = 2) -> World:
    """Insert a seller, a shop, a well-stocked product and ``buyers`` buyers with cards."""
    tag = uuid.uuid4().hex[:10]
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            seller = User(handle=f"ws-seller-{tag}", display_name="Seller", role="seller")
            people = [
                User(handle=f"ws-buyer-{tag}-{i}", display_name=f"Buyer {i}") for i in range(buyers)
            ]
            session.add_all([seller, *people])
            await session.flush()
            assert seller.id is not None
            shop = Shop(owner_id=seller.id, handle=f"ws-shop-{tag}", name="WS Shop")
            session.add(shop)
            await session.flush()
            assert shop.id is not None
            product = Product(
                shop_id=shop.id,
                title="Socket socks",
                category="home",
                price_minor=999,
                currency="USD",
                stock=1_000_000,
            )
            cards = [
                PaymentMethod(
                    user_id=person.id or 0,
                    brand="visa",
                    last4="4242",
                    exp_month=12,
                    exp_year=2099,
                    processor_token="tok_visa",
                    is_default=True,
                )
                for person in people
            ]
            session.add_all([product, *cards])
            await session.commit()
            product_gid = to_global_id("Product", product.id or 0)
            return World(
                seller_id=seller.id,
                seller_token=token_for(seller.id),
                buyers=[
                    Buyer(
                        user_id=person.id or 0,
                        token=token_for(person.id or 0),
                        product_id=product_gid,
                        card_id=to_global_id("PaymentMethod", card.id or 0),
                    )
                    for person, card in zip(people, cards, strict=True)
                ],
            )
    finally:
        await engine.dispose()


async def event_ids(
    database_url: str,
    user_id: int,
    after: int = 0,
    kinds: Collection[str] | None = STATUS_CHANGES,
) -> list[int]:
    """The ids of the committed events (of ``kinds``, by default the status changes
    orderStatusChanged follows; None: every kind) of ``user_id``'s orders above ``after``,
    in order."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT e.id, e.kind FROM order_events e JOIN orders o ON o.id = e.order_id "
                    "WHERE o.user_id = :user AND e.id > :after ORDER BY e.id"
                ),
                {"user": user_id, "after": after},
            )
            return [int(row[0]) for row in rows if kinds is None or row[1] in kinds]
    finally:
        await engine.dispose()


async def last_event_id(
    database_url: str, user_id: int, kinds: Collection[str] | None = STATUS_CHANGES
) -> int:
    ids = await event_ids(database_url, user_id, kinds=kinds)
    return ids[-1] if ids else 0
