"""OpenTelemetry traces: a span per operation, a child span per SQL statement.

Off unless ``ORDERCENTER_OTLP_ENDPOINT`` is set (or an exporter is handed in, as the
tests do); off, every call here is a no-op. The provider is the app's own rather than
OpenTelemetry's global one, so that an embedding's tracing and ours do not fight over
it and each app built in a process can have its own.

The request id is the correlation key: an operation's span is the root of a trace
whose id IS the request id when that id is 32 hex digits (every id the server makes
is), and carries it as ``ordercenter.request_id`` whatever it is. So the X-Request-ID
header, the ``requestId`` of masked errors, the log lines and the spans all share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from db import statement_watch

SERVICE_NAME = "order-center"
REQUEST_ID = "ordercenter.request_id"
# The values of these two are app/vocabulary.py's, as metrics and log lines say them.
TRANSPORT = "ordercenter.transport"
EXECUTION_PATH = "ordercenter.execution_path"
OPERATION_NAME = "graphql.operation.name"
OPERATION_TYPE = "graphql.operation.type"
# Statements of SQL plans run to tens of kilobytes; the start says which one it was.
STATEMENT_CHARS = 4096

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_wanted_trace_id: ContextVar[int] = ContextVar("ordercenter_trace_id", default=0)


class _RequestIdTraceIds(RandomIdGenerator):
    """Random ids, except a root span started by ``Tracing.operation`` takes its
    request id as trace id: the trace is found by the id a user reports."""

    def generate_trace_id(self) -> int:
        return _wanted_trace_id.get() or super().generate_trace_id()


def trace_id_of(request_id: str) -> int:
    """The trace id a request id is (0: none, it is not 32 hex digits or is all zeros)."""
    return int(request_id, 16) if _TRACE_ID.match(request_id) else 0


def otlp_exporter(endpoint: str) -> SpanExporter:
    """The OTLP/HTTP exporter, imported only when asked for: it is an optional extra."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ValueError(
            "ORDERCENTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed: "
            "pip install 'order-center[otlp]' (opentelemetry-exporter-otlp-proto-http)"
        ) from None
    traces = endpoint.rstrip("/")
    if not traces.endswith("/v1/traces"):
        traces += "/v1/traces"
    exporter: SpanExporter = OTLPSpanExporter(endpoint=traces)
    return exporter


class Tracing:
    """The app's tracer; ``enabled`` False makes every span a no-op."""

    def __init__(self, exporter: SpanExporter | None = None) -> None:
        self.provider: TracerProvider | None = None
        self.tracer: trace.Tracer = trace.NoOpTracer()
        if exporter is not None:
            self.provider = TracerProvider(
                resource=Resource.create({"service.name": SERVICE_NAME}),
                id_generator=_RequestIdTraceIds(),
            )
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
            self.tracer = self.provider.get_tracer("ordercenter")

    @classmethod
    def from_settings(cls, settings: Settings) -> Tracing:
        if not settings.otlp_endpoint:
            return cls()
        return cls(otlp_exporter(settings.otlp_endpoint))

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @contextmanager
    def operation(self, name: str | None, *, transport: str, request_id: str) -> Iterator[Span]:
        """The span of one GraphQL operation, current inside the block.

        A root span: its trace is the request's (see the module's docstring). A
        refusal or error leaving the block marks it failed."""
        if self.provider is None:
            # Off: a span that records nothing, without making a trace id, a context and
            # a span current for it (~20 us an operation, for nothing).
            yield trace.INVALID_SPAN
            return
        token = _wanted_trace_id.set(trace_id_of(request_id))
        try:
            span = self.tracer.start_span(
                f"graphql {name}" if name else "graphql",
                context=trace.set_span_in_context(trace.INVALID_SPAN),
                kind=SpanKind.SERVER,
                attributes={REQUEST_ID: request_id, TRANSPORT: transport},
            )
        finally:
            _wanted_trace_id.reset(token)
        if name:
            span.set_attribute(OPERATION_NAME, name)
        with trace.use_span(span, end_on_exit=True, record_exception=True):
            yield span

    def instrument(self, engine: AsyncEngine) -> None:
        """A span per SQL statement the engine runs, a child of the current span: on
        SQLAlchemy's road and on the direct driver road alike (db.statement_watch)."""
        if not self.enabled:
            return
        system = engine.sync_engine.dialect.name
        tracer = self.tracer

        # Called in the awaiting task's context (SQLAlchemy's greenlet carries its
        # contextvars), so the current span is the operation's.
        def started(statement: str) -> statement_watch.Finish | None:
            if not trace.get_current_span().get_span_context().is_valid:
                return None  # the server's own work (sweeps, the hub) is not traced
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
            span = tracer.start_span(
                verb,
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": system,
                    # The statement with its placeholders: bound values (what users
                    # typed) never reach a span.
                    "db.query.text": statement[:STATEMENT_CHARS],
                },
            )

            def finish(error: BaseException | None) -> None:
                if error is not None:
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()

            return finish

        statement_watch.watch(engine, started)

    def shutdown(self) -> None:
        """Send what is buffered; called when the app stops."""
        if self.provider is not None:
            self.provider.shutdown()
