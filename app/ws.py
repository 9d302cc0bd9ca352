"""GraphQL over WebSocket at /graphql: both protocols, token in connection_init."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, cast

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.types import Message as Message_
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types.execution import PreExecutionError

from app import metrics
from app.auth import TokenVerifier, identify
from app.live_lane import SEND, retrieved, serve, the_send, the_writer
from app.pipeline import (
    REQUEST_BYTES,
    Instrumented,
    OperationPipeline,
    OperationRequest,
    Refused,
    rate_key,
)
from app.request_id import request_id_of
from app.vocabulary import GENERIC, GRAPHQL_TRANSPORT_WS, GRAPHQL_WS
from internals import HandOverTransportWSHandler, is_refused_init_close
from resolvers.context import Context
from resolvers.errors import SIGN_IN, NotAuthenticated
from resolvers.subscriptions.hub import Subscriber
from resolvers.subscriptions.lane import DATA, NEXT, Lane, current_lane

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


def _ours(view: Any) -> GraphQLWebSocket:
    return cast("GraphQLWebSocket", view)


def _request(payload: Any) -> OperationRequest:
    return OperationRequest(
        query=payload.get("query"),
        variables=payload.get("variables"),
        operation_name=payload.get("operationName"),
        extensions=payload.get("extensions"),
    )


@contextmanager
def _operation(
    handler: TransportWSHandler | LegacyWSHandler,
    context: Context,
    operation_id: str,
    payload: Any,
    transport: str,
) -> Iterator[str | GraphQLError]:
    """A subscribe/start as the pipeline runs it, alike on both protocols: inside the
    operation's span (``OperationPipeline.operation``), its admission, and its timing
    from that admission to its first answer (``Timings``). Yields the document text to
    run, or the coded error to answer with (the operation then does not start).

    The handler starts the operation in the block: its task, created there, runs its
    statements as the span's children."""
    pipeline = _ours(handler.view).pipeline
    request = _request(payload)
    with pipeline.operation(
        request, transport=transport, request_id=context.request_id, viewer_id=context.viewer_id
    ) as instrumented:
        try:
            text = pipeline.admit(request, context.request_id, instrumented)
        except Refused as refused:
            instrumented.observe()  # refused: timed to here
            yield refused.error
            return
        instrumented.took(GENERIC)  # a WebSocket operation runs on graphql-core
        if pipeline.metrics:
            handler.timings = handler.timings or Timings()
            handler.timings.start(operation_id, instrumented)
        yield text


class Timings:
    """One connection's operations from their admission to their first answer (a
    result, an error, or for a subscription on the direct lane its hand-over): the
    latency of ``metrics.OPERATION_SECONDS`` on WebSocket transports."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started: dict[str, Instrumented] = {}

    def start(self, operation_id: str, instrumented: Instrumented) -> None:
        self.started[operation_id] = instrumented

    def answered(self, operation_id: Any) -> None:
        if self.started and (instrumented := self.started.pop(operation_id, None)) is not None:
            instrumented.observe()


def _scope_of(websocket: Any) -> Scope:
    if not isinstance(websocket, ASGIWebSocketAdapter):  # pragma: no cover
        raise TypeError("a Starlette WebSocket is expected")
    return websocket.ws.scope


class PendingSockets:
    """Sockets open but not yet initialised (no connection_init), per address and in all.

    Each holds a file descriptor and buffers until the init timeout: without a cap one
    client could hold thousands. Over the cap a socket is refused at once.
    """

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self.by_address: Counter[str] = Counter()
        self.count = 0

    def enter(self, scope: Scope) -> str | None:
        """None when the socket may wait for its init (it is counted); else the reason."""
        address = (scope.get("client") or ("unknown", 0))[0]
        if self.count >= self.total:
            return "Too many connections are starting; try again shortly."
        if self.by_address[address] >= self.per_address:
            return "Too many connections from your address are starting; send connection_init."
        self.by_address[address] += 1
        self.count += 1
        scope.setdefault("state", {})[_PENDING] = address
        return None

    def settle(self, scope: Scope) -> None:
        """The socket sent connection_init, or went away: it is not pending any more."""
        address = scope.get("state", {}).pop(_PENDING, None)
        if address is not None:
            self.count -= 1
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]


_PENDING = "ordercenter_pending_address"
UNAUTHENTICATED = NotAuthenticated.code
# Why a connection_init was refused, as its close frame says it.
REFUSALS = {**SIGN_IN, "connections": "Too many connections for this user."}
TRY_AGAIN_LATER = 1013
MESSAGE_TOO_BIG = 1009


# The context of the operation the current task runs (``Context.for_operation``: its
# own loaders); None outside an operation's subscribe-time task (the connection's then).
operation_context: ContextVar[Context | None] = ContextVar(
    "ordercenter_operation_context", default=None
)


class TransportWSHandler(HandOverTransportWSHandler):
    """graphql-transport-ws with the direct lane (resolvers/subscriptions/lane.py).

    ``run_operation`` offers each operation the lane; once its subscribe-time pipeline
    has ended with the resolver's hand-over (``result_stream_ended``, the hook
    internals.HandOverTransportWSHandler adds to Strawberry's handler) the operation
    moves to a task of its own that serves the lane (app/live_lane.py), and nothing of
    the pipeline's task outlives it; ``send_message`` lets a late answer of the
    pipeline win over the lane; ``handle_connection_init`` and ``handle_message`` let
    go of what an idle connection would otherwise hold for good (the spent init timer,
    the last message read).
    """

    timings: Timings | None = None  # made at the first operation
    connection_context: Any = None

    @property
    def context(self) -> Any:
        """What Strawberry runs an operation with: in an operation's task its own copy
        of the connection's context (``run_operation``), elsewhere the connection's."""
        return operation_context.get() or self.connection_context

    @context.setter
    def context(self, context: Any) -> None:
        self.connection_context = context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        _ours(self.view).pending.settle(_scope_of(self.websocket))
        await super().handle_connection_init(message)
        if self.connection_init_received:
            # Cancelled now: kept, it would hold its cancellation (an exception and its
            # traceback) as long as the connection lives.
            self.connection_init_timeout_task = None

    async def handle_message(self, message: Message) -> None:
        try:
            await super().handle_message(message)
        finally:
            # The read loop holds on to the last message it read until the next one
            # comes, which from a client that only subscribed may be never.
            received: object = message
            if isinstance(received, dict):
                received.clear()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        # Strawberry's own protocol checks (init first, unique ids, malformed payloads)
        # answer as the protocol says; anything else goes through the pipeline first.
        if (
            self.connection_acknowledged
            and isinstance(payload, dict)
            and message.get("id") not in self.operations
            and isinstance(self.context, Context)
        ):
            transport = GRAPHQL_TRANSPORT_WS
            with _operation(self, self.context, message["id"], payload, transport) as admitted:
                if isinstance(admitted, GraphQLError):
                    await self.send_message(
                        {"id": message["id"], "type": "error", "payload": [admitted.formatted]}
                    )
                    return
                payload["query"] = admitted
                await super().handle_subscribe(message)
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        connection = self.connection_context
        lane = None
        if isinstance(connection, Context):
            lane = Lane(operation.id, NEXT)
            # Its own loaders: a `complete` that cancels another operation mid-read
            # must not cancel the reads this one shares with it.
            operation_context.set(connection.for_operation())
        current_lane.set(lane)  # this task's own context: the operation's
        await super().run_operation(operation)

    def result_stream_failed(self, operation: Operation[Context, None]) -> None:
        # Stopped, or failed on the way out after the resolver handed over.
        lane = current_lane.get()
        if lane is not None and lane.feed is not None:
            lane.feed.close()

    def result_stream_ended(self, operation: Operation[Context, None]) -> bool:
        lane = current_lane.get()
        if lane is None or lane.feed is None:
            return False
        if self.operations.get(operation.id) is not operation:  # pragma: no cover
            lane.feed.close()  # stopped meanwhile
            return False
        task = asyncio.create_task(self._serve_lane(operation, lane))
        # Closed however the task ends: also when it is cancelled before it ever ran (the
        # connection closed at once), and its own ``finally`` with it. In an empty
        # context: a callback keeps the context it is added in for as long as the task
        # lives, and this task's (the subscribe's) holds the operation's own context,
        # loaders and scheduler, which an idle subscription has no use for.
        task.add_done_callback(
            functools.partial(_lane_ended, lane.feed), context=contextvars.Context()
        )
        operation.task = task  # what a `complete` from the client cancels
        if self.timings is not None:
            self.timings.answered(operation.id)  # subscribed
        return True

    async def send_message(self, message: Message) -> None:
        lane = current_lane.get()
        if lane is not None and lane.feed is not None:
            # The pipeline answered after its resolver handed over (an extension failed
            # on its way out): that answer stands, and the lane is not taken.
            lane.feed.close()
            lane.feed = None
        if self.timings is not None:
            self.timings.answered(message.get("id"))
        await super().send_message(message)

    async def _serve_lane(self, operation: Operation[Context, None], lane: Lane) -> None:
        """The lane's events, then the error that ends it and ``complete``, as the
        pipeline would have sent them."""
        current_lane.set(None)  # this task serves the lane: it is not its pipeline
        operation_context.set(None)  # nor kept alive by an idle subscription
        context = self.connection_context
        if not isinstance(context, Context):  # pragma: no cover
            raise TypeError("a lane without our context")
        operations = self.operations
        try:
            ending = await serve(
                lane,
                context,
                the_send(_scope_of(self.websocket)),
                lambda: operations.get(operation.id) is operation,
                _ours(self.view).pipeline.metrics,
                the_writer(_scope_of(self.websocket)),
            )
            await self.send_text(ending)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except WebSocketDisconnected:
            # The client went away mid-stream: a normal end. The read loop sees it too,
            # and ends the connection's other operations.
            log.debug("operation %s ended: the client went away", operation.id)
            if self.operations.get(operation.id) is operation:
                self.operations.pop(operation.id, None)
        except Exception as error:
            # As run_operation does when sending fails (the socket went away).
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    async def send_text(self, text: str) -> None:
        await _send_text(self.websocket, text)

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            # An operation's answer had nowhere to go: the client left, nothing failed.
            log.debug("an operation's answer was not sent: the client went away")
            return
        await super().handle_task_exception(error)


def _lane_ended(feed: Subscriber, task: asyncio.Task[None]) -> None:
    feed.close()
    retrieved(task)


async def _send_text(socket: Any, text: str) -> None:
    if not isinstance(socket, ASGIWebSocketAdapter):  # pragma: no cover
        raise TypeError("a Starlette WebSocket is expected")
    try:
        await socket.ws.send_text(text)
    except WebSocketDisconnect as error:
        raise WebSocketDisconnected from error


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, through the same pipeline and, once subscribed,
    on the same direct lane as graphql-transport-ws: only the frame differs ("data"
    where the other says "next")."""

    timings: Timings | None = None  # made at the first operation

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        _ours(self.view).pending.settle(_scope_of(self.websocket))
        await super().handle_connection_init(message)

    async def handle_start(self, message: StartMessage) -> None:
        payload: Any = message.get("payload")
        if (
            self.connection_acknowledged
            and isinstance(payload, dict)
            and isinstance(self.context, Context)
        ):
            with _operation(self, self.context, message["id"], payload, GRAPHQL_WS) as admitted:
                if isinstance(admitted, GraphQLError):
                    await self.send_message(
                        {"type": "error", "id": message["id"], "payload": admitted.formatted}
                    )
                    return
                payload["query"] = admitted
                await super().handle_start(message)
            return
        await super().handle_start(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """One operation's task (Strawberry's, with the lane offered): the pipeline's
        results as Strawberry sends them; once the resolver has handed over, the lane's
        events; then ``complete``, also when stopped."""
        context = self.context
        lane = Lane(operation_id, DATA) if isinstance(context, Context) else None
        current_lane.set(lane)  # this task's own context: the operation's
        try:
            stream = await self.schema.subscribe(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                # Its own loaders, as on graphql-transport-ws (``run_operation``).
                context_value=context.for_operation() if isinstance(context, Context) else context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = stream
            first = True
            async for result in stream:
                if first and isinstance(result, PreExecutionError) and result.errors:
                    await self.send_message(
                        {"type": "error", "id": operation_id, "payload": result.errors[0].formatted}
                    )
                    return
                first = False
                if lane is not None and lane.feed is not None:
                    # The pipeline answered after its resolver handed over (an extension
                    # failed on its way out): that answer stands, the lane is not taken.
                    lane.feed.close()
                    lane.feed = None
                await self.send_data_message(result, operation_id)
            if lane is not None and lane.feed is not None and isinstance(context, Context):
                self.subscriptions.pop(operation_id, None)  # its pipeline is over
                if self.timings is not None:
                    self.timings.answered(operation_id)  # subscribed
                this = asyncio.current_task()
                tasks = self.tasks
                ending = await serve(
                    lane,
                    context,
                    the_send(_scope_of(self.websocket)),
                    lambda: tasks.get(operation_id) is this,
                    _ours(self.view).pipeline.metrics,
                    the_writer(_scope_of(self.websocket)),
                )
                await _send_text(self.websocket, ending)
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            # Stopped (or the connection closed): as Strawberry's handler says it.
            with suppress(Exception):
                await self.send_message({"type": "complete", "id": operation_id})
        except WebSocketDisconnected:
            pass  # the read loop sees it too, and cleans up
        except Exception as error:
            log.exception("graphql-ws operation failed", exc_info=error)
            with suppress(Exception):
                await self.send_message({"type": "complete", "id": operation_id})
        finally:
            if lane is not None and lane.feed is not None:
                lane.feed.close()
            self.subscriptions.pop(operation_id, None)
            if self.tasks.get(operation_id) is asyncio.current_task():
                self.tasks.pop(operation_id, None)

    async def send_message(self, message: Any) -> None:
        if self.timings is not None:
            self.timings.answered(message.get("id"))
        await super().send_message(message)


class GraphQLWebSocket(GraphQL[Context, None]):
    """Strawberry's WebSocket transport with our context, auth and limits."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, pipeline: OperationPipeline, verifier: TokenVerifier | None = None) -> None:
        settings = pipeline.settings
        super().__init__(
            pipeline.schema,
            graphql_ide=None,
            keep_alive=True,
            keep_alive_interval=settings.ws_keep_alive_seconds,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_operations,
        )
        self.pipeline = pipeline
        self.settings = settings
        self.pending = PendingSockets(settings.ws_max_pending_per_address, settings.ws_max_pending)
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
        context = self.pipeline.context(
            state,
            viewer_id=None,
            request_id=request_id_of(request.scope),
            client_host=request.client.host if request.client else None,
            hub=state.hub,
        )
        request.scope.setdefault("state", {})["ordercenter_context"] = context
        return context

    async def on_ws_connect(self, context: Context) -> None:
        viewer = identify(self.verifier, authorization_of(context.connection_params))
        if isinstance(viewer, str):
            context.auth_problem = viewer
            extensions = {"code": UNAUTHENTICATED, "reason": viewer}
            raise ConnectionRejectionError({"message": SIGN_IN[viewer], "extensions": extensions})
        if self.connections[viewer.user_id] >= self.settings.ws_max_connections_per_user:
            context.auth_problem = "connections"
            raise ConnectionRejectionError({"message": REFUSALS["connections"]})
        self.connections[viewer.user_id] += 1
        context.viewer_id = viewer.user_id
        context.rate_key = rate_key(viewer.user_id, None)
        context.refresh_loaders()
        # Read once: the token need not stay in memory as long as the connection.
        context.connection_params = None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        """Accept, so that the client sees why, then close with 1013 (Try Again Later)."""
        if (await receive())["type"] != "websocket.connect":
            return
        offered = scope.get("subprotocols") or []
        chosen = next((p for p in offered if p in self.protocols), None)
        await send({"type": "websocket.accept", "subprotocol": chosen})
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})

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
        refusal = self.pending.enter(scope)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal)
            return
        closed = False

        async def sending(message: Message_) -> None:
            if closed:
                return
            if is_refused_init_close(message):
                # Strawberry refuses a connection_init with a bare "Forbidden": say why.
                context = scope.get("state", {}).get("ordercenter_context")
                reason = REFUSALS.get(getattr(context, "auth_problem", None) or "")
                if reason:
                    message = {**message, "reason": reason}
            await send(message)

        async def receiving() -> Message_:
            # One limit for an operation whatever its transport: a message may be as
            # large as an HTTP body, no larger (uvicorn alone would take 16 MiB).
            nonlocal closed
            message = await receive()
            data = message.get("text") or message.get("bytes") or ""
            if len(data) > REQUEST_BYTES and (
                isinstance(data, bytes) or len(data.encode()) > REQUEST_BYTES
            ):
                await send(
                    {
                        "type": "websocket.close",
                        "code": MESSAGE_TOO_BIG,
                        "reason": f"Messages are limited to {REQUEST_BYTES} bytes.",
                    }
                )
                closed = True
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        self._open.add(send)
        # The send Starlette's WebSocket wraps: the direct lane sends through it too.
        scope.setdefault("state", {})[SEND] = sending
        if self.pipeline.metrics:
            metrics.WEBSOCKETS.inc()
        try:
            await super().__call__(scope, receiving, sending)
        finally:
            if self.pipeline.metrics:
                metrics.WEBSOCKETS.dec()
            self.pending.settle(scope)
            self._open.discard(send)
            context = (scope.get("state") or {}).get("ordercenter_context")
            if isinstance(context, Context) and context.viewer_id is not None:
                self.connections[context.viewer_id] -= 1
                if self.connections[context.viewer_id] <= 0:
                    del self.connections[context.viewer_id]
