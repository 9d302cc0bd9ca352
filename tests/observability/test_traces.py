"""Traces: an operation's span, its SQL statements' child spans, the request id as trace id.

The app is built with an in-memory exporter in place of OTLP; everything else is as
served (the pipeline, the engine's hooks, the WebSocket transport).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

import internals
from app.main import create_app
from app.settings import Settings
from app.tracing import EXECUTION_PATH, STATEMENT_CHARS, Tracing
from db.engine import SessionFactory
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import token_for
from tests.factories import make_order, make_product, make_shop, make_user
from tests.subscriptions.asgi_ws import AsgiSocket, running_app

VIEWER = "query Me { viewer { handle } }"
SUBSCRIPTION = """subscription Watch($id: ID, $after: String) {
  orderStatusChanged(orderId: $id, after: $after) { cursor toStatus }
}"""


@pytest.fixture
def exported() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter)
    yield tracing, exporter
    tracing.shutdown()


def finished(tracing: Tracing, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert tracing.provider is not None
    tracing.provider.force_flush()
    return list(exporter.get_finished_spans())


def operation_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.kind == SpanKind.SERVER]


def children_of(span: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    own = span.context.span_id
    return [s for s in spans if s.parent is not None and s.parent.span_id == own]


async def test_an_http_query_is_a_span_whose_trace_id_is_the_request_id_with_its_sql(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    exported: tuple[Tracing, InMemorySpanExporter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracing, exporter = exported
    user = await make_user(sessions)
    app = create_app(settings, engine=engine, tracing=tracing)
    # Tracing does not keep the SQL plan's statement off asyncpg's own connection
    # (resolvers.batching.Reads.text_rows): that road gets its span too.
    by_driver: list[str] = []
    driver_rows = internals.driver_rows

    async def counted(connection: Any, text: Any, params: Any) -> Any:
        by_driver.append(text.sql)
        return await driver_rows(connection, text, params)

    monkeypatch.setattr(internals, "driver_rows", counted)
    headers = {"Authorization": f"Bearer {token_for(user.id)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        paths = []
        for _ in range(2):  # the second run is answered by the compiled plan
            exporter.clear()
            response = await http.post("/graphql", json={"query": VIEWER}, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["data"]["viewer"]["handle"] == user.handle
            spans = finished(tracing, exporter)
            (operation,) = operation_spans(spans)
            request_id = response.headers["X-Request-ID"]
            assert format(operation.context.trace_id, "032x") == request_id
            assert operation.parent is None  # the trace's root
            assert operation.name == "graphql Me"
            attributes = dict(operation.attributes or {})
            assert attributes["graphql.operation.name"] == "Me"
            assert attributes["graphql.operation.type"] == "query"
            assert attributes["ordercenter.transport"] == "http-post"
            assert attributes["ordercenter.request_id"] == request_id
            paths.append(attributes[EXECUTION_PATH])
            statements = children_of(operation, spans)
            assert statements, "no span for the SQL statements"
            for statement in statements:
                assert statement.kind == SpanKind.CLIENT
                assert statement.context.trace_id == operation.context.trace_id
                text = str((statement.attributes or {})["db.query.text"])
                assert "SELECT" in text.upper()
                assert (statement.attributes or {})["db.system.name"] == engine.dialect.name
    assert paths[0] == "generic"
    # The metrics' words (app/vocabulary.py): the second run is one of a compiled plan's.
    assert paths[1] in {"compiled_plan", "sql_plan"}
    if engine.dialect.name == "postgresql":
        assert paths[1] == "sql_plan"
        assert len(by_driver) == 1, "the SQL plan's statement did not go to asyncpg"
        (statement,) = children_of(operation, spans)
        assert (statement.attributes or {})["db.query.text"] == by_driver[0][:STATEMENT_CHARS]
        assert statement.status.status_code != StatusCode.ERROR


async def test_a_clients_own_request_id_links_the_span_and_a_refusal_marks_it(
    settings: Settings, engine: AsyncEngine, exported: tuple[Tracing, InMemorySpanExporter]
) -> None:
    tracing, exporter = exported
    app = create_app(settings, engine=engine, tracing=tracing)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.post(
            "/graphql",
            json={"query": "query Broken { nope"},
            headers={"X-Request-ID": "support-ticket-42"},
        )
    assert response.headers["X-Request-ID"] == "support-ticket-42"
    (operation,) = operation_spans(finished(tracing, exporter))
    # Not 32 hex digits, so not a trace id: the attribute carries it instead.
    assert dict(operation.attributes or {})["ordercenter.request_id"] == "support-ticket-42"
    assert operation.status.status_code == StatusCode.ERROR


async def test_a_websocket_subscribe_is_a_span_in_the_connections_trace(
    settings: Settings,
    engine: AsyncEngine,
    sessions: SessionFactory,
    exported: tuple[Tracing, InMemorySpanExporter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracing, exporter = exported
    buyer = await make_user(sessions)
    shop = await make_shop(sessions, owner=await make_user(sessions, role="seller"))
    order = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[await make_product(sessions, shop=shop)],
        status=OrderStatus.AWAITING_SHIPMENT,
    )
    monkeypatch.setattr(
        "tests.subscriptions.asgi_ws.create_app",
        lambda s, engine: create_app(s, engine=engine, tracing=tracing),
    )
    async with running_app(settings, engine) as app:
        socket = await AsgiSocket.open(app, token_for(buyer.id))
        try:
            order_id = to_global_id("Order", order.id)
            await socket.subscribe("1", SUBSCRIPTION, {"id": order_id, "after": "0"})
            first = await socket.recv()  # replayed from the database
            assert '"type":"next"' in first, first
            request_id = socket.context.request_id
        finally:
            await socket.close()
    spans = finished(tracing, exporter)
    (operation,) = operation_spans(spans)
    assert operation.name == "graphql Watch"
    attributes = dict(operation.attributes or {})
    assert attributes["ordercenter.transport"] == "graphql-transport-ws"
    assert attributes["graphql.operation.type"] == "subscription"
    assert attributes[EXECUTION_PATH] == "generic"
    assert format(operation.context.trace_id, "032x") == request_id
    assert any(s.kind == SpanKind.CLIENT for s in children_of(operation, spans))


def test_no_endpoint_no_tracing_and_a_missing_exporter_is_named(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not Tracing.from_settings(settings).enabled
    # The OTLP exporter is an optional extra: without it, start-up says how to get it.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    wanting = settings.model_copy(update={"otlp_endpoint": "http://127.0.0.1:4318"})
    with pytest.raises(ValueError, match=r"order-center\[otlp\]"):
        Tracing.from_settings(wanting)
