"""GraphQL over WebSocket at /graphql: both protocols, token in connection_init."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from app.auth import TokenVerifier, bearer_token
from app.request_id import request_id_of
from app.settings import Settings
from resolvers.context import Context
from resolvers.subscriptions.lane import Lane, current_lane
from schema.definition import OrderCenterSchema

log = logging.getLogger("ordercenter.ws")
CLOSE_TIMEOUT_SECONDS = 3.0


def authorization_of(params: dict[str, Any] | None) -> str | None:
    """The Authorization value of a connection_init payload; the key in any case."""
    for source in (params or {}, (params or {}).get("headers") or {}):
        if isinstance(source, dict):
            for key, value in source.items():
                if (
                    isinstance(key, str)
                    and key.lower() == "authorization"
                    and isinstance(value, str)
                ):
                    return value
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a direct lane per operation (resolvers/subscriptions/lane.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lanes: dict[str, Lane] = {}

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        lane = None
        if isinstance(self.context, Context):
            # As str: orjson's bytes keep ~4 KB of spare capacity, and the key lives as long
            # as the subscription (thousands of them).
            variables = orjson.dumps(operation.variables, option=orjson.OPT_SORT_KEYS).decode()
            key = (
                "frame",
                self.context.viewer_id,
                operation.query,
                variables,
                operation.operation_name,
            )
            lane = self.lanes[operation.id] = Lane(key, operation.id, self.send_text)
        token = current_lane.set(lane)
        try:
            await super().run_operation(operation)
        finally:
            current_lane.reset(token)
            if lane is not None and self.lanes.get(operation.id) is lane:
                del self.lanes[operation.id]

    async def send_message(self, message: Message) -> None:
        lane = self.lanes.get(message.get("id", "")) if message["type"] == "next" else None
        if lane is None or lane.rendering is None:
            await super().send_message(message)
            return
        payload = message.get("payload")
        payload_json = orjson.dumps(payload).decode()
        lane.rendered(
            payload_json if isinstance(payload, dict) and not payload.get("errors") else None
        )
        await self.send_text(lane.frame(payload_json))

    async def send_text(self, text: str) -> None:
        socket = self.websocket
        if not isinstance(socket, ASGIWebSocketAdapter):  # pragma: no cover
            raise TypeError("a Starlette WebSocket is expected")
        try:
            await socket.ws.send_text(text)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class GraphQLWebSocket(GraphQL[Context, None]):
    """Strawberry's WebSocket transport with our context, auth and limits."""

    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: OrderCenterSchema,
        settings: Settings,
        verifier: TokenVerifier | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            keep_alive=True,
            keep_alive_interval=settings.ws_keep_alive_seconds,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_operations,
        )
        self.settings = settings
        # The HTTP backend's verifier: one decision about tokens for both transports.
        self.verifier = verifier or TokenVerifier.from_settings(settings)
        self.connections: Counter[int] = Counter()
        # The ASGI send of every open socket, to say goodbye with 1001 on shutdown.
        self._open: set[Send] = set()

    def encode_json(self, data: object) -> str:
        # Every delivery is encoded once per subscriber: orjson is several times
        # faster than json.dumps, and a str keeps frames text as the protocols require.
        return orjson.dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.app.state
        context = Context.for_request(
            viewer_id=None,
            sessions=state.sessions,
            max_page_size=self.settings.max_page_size,
            default_page_size=self.settings.default_page_size,
            request_id=request_id_of(request.scope),
            events=state.bus,
            gateway=state.gateway,
            rules=self.settings.rules,
            hub=state.hub,
        )
        request.scope.setdefault("state", {})["ordercenter_context"] = context
        return context

    async def on_ws_connect(self, context: Context) -> None:
        token = bearer_token(authorization_of(context.connection_params))
        viewer = None if token is None else self.verifier.verify(token)
        if viewer is None:
            raise ConnectionRejectionError({"message": "A valid bearer token is required."})
        if self.connections[viewer.user_id] >= self.settings.ws_max_connections_per_user:
            raise ConnectionRejectionError({"message": "Too many connections for this user."})
        self.connections[viewer.user_id] += 1
        context.viewer_id = viewer.user_id
        context.refresh_loaders()

    async def close_all(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Close every open socket (1001 Going Away: reconnect, elsewhere or later)."""
        message = {"type": "websocket.close", "code": code, "reason": reason}
        closing = [send(message) for send in list(self._open)]
        self._open.clear()
        if closing:
            await asyncio.wait_for(
                asyncio.gather(*closing, return_exceptions=True), CLOSE_TIMEOUT_SECONDS
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._open.add(send)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._open.discard(send)
            context = (scope.get("state") or {}).get("ordercenter_context")
            if isinstance(context, Context) and context.viewer_id is not None:
                self.connections[context.viewer_id] -= 1
                if self.connections[context.viewer_id] <= 0:
                    del self.connections[context.viewer_id]
