"""strawberry-graphql's private parts that internals/ relies on: ``Schema._schema``,
``Schema._handle_execution_result``, the graphql-transport-ws handler's
``_send_result_stream`` with ``_OperationStreamClosed``, and its 4403 close of a refused
connection_init. Each is checked for the behaviour we use, on a schema of its own."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSchema, parse, validate
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types import ExecutionContext, ExecutionResult

from internals import (
    REFUSED_INIT_CLOSE,
    HandOverTransportWSHandler,
    ResultHookSchema,
    graphql_schema,
    is_refused_init_close,
)
from tests.contracts.pins import upgraded

STRAWBERRY = upgraded("strawberry-graphql")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("a detail nobody outside may see")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        yield 1
        yield 2


class Recording(ResultHookSchema):
    def __init__(self) -> None:
        super().__init__(query=Query, subscription=Subscription)
        self.seen: list[ExecutionResult] = []

    def finish_result(self, context: ExecutionContext, answer: ExecutionResult) -> None:
        self.seen.append(answer)
        if answer.errors:
            answer.errors = [GraphQLError("masked")]


def test_the_graphql_core_schema_is_the_one_strawberry_executes() -> None:
    schema = Schema(query=Query)
    found = graphql_schema(schema)
    assert isinstance(found, GraphQLSchema), STRAWBERRY
    assert validate(found, parse("{ hello }")) == [], STRAWBERRY
    assert [e.message for e in validate(found, parse("{ nope }"))], STRAWBERRY
    query_type = found.query_type
    assert query_type is not None
    assert set(query_type.fields) == {"hello", "broken"}, STRAWBERRY


def test_handle_execution_result_keeps_the_signature_we_override() -> None:
    parameters = inspect.signature(Schema._handle_execution_result).parameters
    assert list(parameters) == [
        "self",
        "context",
        "result",
        "extensions_runner",
        "skip_process_errors",
    ], STRAWBERRY
    assert parameters["skip_process_errors"].kind is inspect.Parameter.KEYWORD_ONLY, STRAWBERRY
    assert inspect.iscoroutinefunction(Schema._handle_execution_result), STRAWBERRY


async def test_every_result_passes_the_hook_before_a_transport_sees_it() -> None:
    schema = Recording()
    ok = await schema.execute("{ hello }")
    failed = await schema.execute("{ broken }")
    unparsable = await schema.execute("{ hello")
    stream: Any = await schema.subscribe("subscription { ticks }")
    events = [result async for result in stream]
    refused: Any = await schema.subscribe("subscription { nope }")
    refusals = [result async for result in refused]
    assert ok.data == {"hello": "hi"}
    assert [e.message for e in failed.errors or []] == ["masked"], STRAWBERRY
    assert [e.message for e in unparsable.errors or []] == ["masked"], STRAWBERRY
    assert [e.data for e in events] == [{"ticks": 1}, {"ticks": 2}], STRAWBERRY
    assert [e.message for r in refusals for e in r.errors or []] == ["masked"], STRAWBERRY
    assert schema.seen == [ok, failed, unparsable, *events, *refusals], STRAWBERRY


class Socket:
    """Just what the handler calls on its WebSocket adapter."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:  # pragma: no cover
        self.sent.append({"closed": code, "reason": reason})


class TakesOver(HandOverTransportWSHandler):
    take_over = True
    ended: list[str]

    def result_stream_ended(self, operation: Operation[Any, None]) -> bool:
        self.ended.append(operation.id)
        return self.take_over


async def _run(take_over: bool) -> tuple[list[dict[str, Any]], TakesOver]:
    socket = Socket()
    handler = TakesOver(
        view=None,  # type: ignore[arg-type]
        websocket=socket,  # type: ignore[arg-type]
        context=None,
        root_value=None,
        schema=Schema(query=Query, subscription=Subscription),
        connection_init_wait_timeout=timedelta(seconds=1),
    )
    handler.take_over = take_over
    handler.ended = []
    operation = Operation(handler, "1", "subscription { ticks }", None, None)
    handler.operations["1"] = operation
    await handler.run_operation(operation)
    return socket.sent, handler


async def test_a_stream_the_handler_takes_over_is_not_completed() -> None:
    # _send_result_stream sends the results; _OperationStreamClosed keeps run_operation
    # from sending complete (and from forgetting the operation).
    assert "_send_result_stream" in vars(BaseGraphQLTransportWSHandler), STRAWBERRY
    sent, handler = await _run(take_over=True)
    assert [m["type"] for m in sent] == ["next", "next"], STRAWBERRY
    assert handler.ended == ["1"]
    assert "1" in handler.operations, STRAWBERRY
    sent, handler = await _run(take_over=False)
    assert [m["type"] for m in sent] == ["next", "next", "complete"], STRAWBERRY
    assert "1" not in handler.operations, STRAWBERRY


class Refusing(GraphQL[None, None]):
    async def on_ws_connect(self, context: Any) -> Any:
        raise ConnectionRejectionError({"message": "why we refused"})


async def test_a_refused_connection_init_is_closed_with_4403() -> None:
    app = Refusing(Schema(query=Query, subscription=Subscription))
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {
        "type": "websocket",
        "path": "/graphql",
        "headers": [(b"sec-websocket-protocol", b"graphql-transport-ws")],
        "subprotocols": ["graphql-transport-ws"],
        "query_string": b"",
    }
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "websocket.connect"})
    assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "websocket.accept"
    init = json.dumps({"type": "connection_init", "payload": {}})
    await inbox.put({"type": "websocket.receive", "text": init})
    closing = await asyncio.wait_for(outbox.get(), 5)
    await inbox.put({"type": "websocket.disconnect", "code": 4403})
    await asyncio.wait_for(task, 5)
    assert closing == {"type": "websocket.close", "code": 4403, "reason": "Forbidden"}, STRAWBERRY
    assert REFUSED_INIT_CLOSE == 4403
    assert is_refused_init_close(closing)
    assert not is_refused_init_close({"type": "websocket.close", "code": 1000})
