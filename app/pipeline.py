"""The operation pipeline: the one way a GraphQL operation is run, whatever brought it.

Transports only frame messages: HTTP GET and POST (app/graphql_http.py),
graphql-transport-ws and legacy graphql-ws (app/ws.py), and in-process callers all hand
an ``OperationRequest`` here. Every operation then goes through, in this order:

1. the raw document's size limit (``Limits.max_document_bytes``), before anything reads it;
2. persisted query / allow-list resolution (app/persisted.py);
3. lexing and parsing under the token limit, the shape checks, NUL characters and the
   choice of operation (schema/documents.py), once per distinct text from a cache
   bounded in bytes;
4. validation (cached beside the parse), in the schema's run;
5. the operation's cost against the limit and the caller's budget (``schema.limits.charge``,
   used by every execution path);
6. the execution path: a compiled plan (answered in SQL on PostgreSQL) or graphql-core;
7. error masking and codes (schema/error_policy.py), where results leave the schema.

Each operation runs inside ``OperationPipeline.operation``, the one place its trace span
starts and its request's log line learns what ran (app/tracing.py, app/request_log.py).

A rule added to one of these steps holds on every transport with no code of its own
there. The request-level limit shared by the transports is here too: an HTTP body and a
WebSocket message are both limited to ``REQUEST_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from starlette.datastructures import State
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.persisted import PersistedQueries, PersistedQueryError
from app.request_log import note_operation, note_operation_name
from app.settings import Settings
from app.tracing import EXECUTION_PATH, GENERIC, OPERATION_NAME, OPERATION_TYPE, Tracing
from resolvers.context import Context
from schema.definition import OrderCenterSchema
from schema.documents import TOO_LARGE, WHICH_OPERATION, oversized, too_large
from schema.plans import Plans

REQUEST_BYTES = 1_048_576  # an HTTP request body, and a WebSocket message
ALL_OPERATIONS = frozenset(
    {OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}
)

# What an HTTP client is told of refusals that are not ordinary GraphQL request errors.
_STATUS: dict[Any, int] = {TOO_LARGE: 413, WHICH_OPERATION: 400}


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """What a client asked for, as the GraphQL-over-HTTP and WebSocket payloads say it."""

    query: Any
    variables: Any = None
    operation_name: Any = None
    extensions: Any = None


class Refused(Exception):
    """The operation may not run; nothing of it was executed.

    ``error`` is coded and ready to send. ``status`` is the HTTP status that says the
    same (None: an ordinary GraphQL request error, 200 under application/json).
    """

    def __init__(self, error: GraphQLError, status: int | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


def rate_key(viewer_id: int | None, client_host: str | None) -> str:
    """Whose cost budget an operation spends: the user's, or the address's when signed out."""
    if viewer_id is not None:
        return f"user:{viewer_id}"
    return f"ip:{client_host or 'unknown'}"


def _operation_of(document: DocumentNode | None, name: Any) -> OperationDefinitionNode | None:
    for definition in document.definitions if document is not None else ():
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


class OperationPipeline:
    def __init__(
        self, schema: OrderCenterSchema, settings: Settings, tracing: Tracing | None = None
    ) -> None:
        self.schema = schema
        self.settings = settings
        self.tracing = tracing or Tracing()
        self.persisted = PersistedQueries.from_settings(settings)
        self.plans = Plans(schema, settings.limits) if settings.compiled_plans else None

    def context(
        self,
        state: State,
        *,
        viewer_id: int | None,
        request_id: str,
        client_host: str | None,
        hub: Any = None,
        auth_problem: str | None = None,
    ) -> Context:
        """A caller's context: fresh loaders, the app's services, the caller's budget."""
        settings = self.settings
        return Context.for_request(
            viewer_id=viewer_id,
            sessions=state.sessions,
            max_page_size=settings.max_page_size,
            default_page_size=settings.default_page_size,
            request_id=request_id,
            events=state.bus,
            gateway=state.gateway,
            rules=settings.rules,
            refresher=getattr(state, "refresher", None),
            budget=getattr(state, "budget", None),
            rate_key=rate_key(viewer_id, client_host),
            hub=hub,
            auth_problem=auth_problem,
        )

    @contextmanager
    def operation(
        self,
        request: OperationRequest,
        *,
        transport: str,
        request_id: str,
        viewer_id: int | None,
    ) -> Iterator[Span]:
        """Where every operation runs, whatever its transport: its span (current inside)
        and its request's log line's operation, transport and viewer.

        The name is the request's ``operationName`` until ``admit`` reads the document."""
        name = request.operation_name if isinstance(request.operation_name, str) else None
        with self.tracing.operation(name, transport=transport, request_id=request_id) as span:
            span.set_attribute(EXECUTION_PATH, GENERIC)  # a compiled plan says otherwise
            note_operation(name, transport, viewer_id)
            yield span

    def admit(self, request: OperationRequest, request_id: str | None = None) -> str:
        """Steps 1-3: the document text to run, or Refused (the operation's span says so)."""
        try:
            return self._admit(request, request_id)
        except Refused as refused:
            code = (refused.error.extensions or {}).get("code")
            trace.get_current_span().set_status(Status(StatusCode.ERROR, str(code)))
            raise

    def _admit(self, request: OperationRequest, request_id: str | None) -> str:
        limit = self.schema.documents.max_bytes
        if isinstance(request.query, str) and (size := oversized(request.query, limit)):
            raise Refused(too_large(size, limit), 413)
        try:
            text = self.persisted.resolve(request.query, request.extensions)
        except PersistedQueryError as error:
            raise Refused(error.graphql_error(), error.status) from None
        try:
            reading = self.schema.documents.admit(text, request.variables, request.operation_name)
        except GraphQLError as error:
            status = _STATUS.get((error.extensions or {}).get("code"))
            raise Refused(self.schema.error_policy.one(error, request_id), status) from None
        _name_operation(_operation_of(reading.document, request.operation_name))
        return text

    async def execute(
        self,
        request: OperationRequest,
        context: Context,
        *,
        allowed: Collection[OperationType] = ALL_OPERATIONS,
        fresh_context: Callable[[], Context] | None = None,
        transport: str = "http",
    ) -> ExecutionResult:
        """A query or mutation's result; Refused before anything runs.

        ``fresh_context`` gives the generic run new loaders when a compiled plan
        declined part-way (the budget is not charged twice)."""
        with self.operation(
            request,
            transport=transport,
            request_id=context.request_id,
            viewer_id=context.viewer_id,
        ) as span:
            result = await self._execute(request, context, allowed, fresh_context)
            if result.errors:
                codes = [str((e.extensions or {}).get("code", "")) for e in result.errors]
                span.set_status(Status(StatusCode.ERROR, ", ".join(dict.fromkeys(codes))))
            return result

    async def _execute(
        self,
        request: OperationRequest,
        context: Context,
        allowed: Collection[OperationType],
        fresh_context: Callable[[], Context] | None,
    ) -> ExecutionResult:
        text = self.admit(request, context.request_id)
        name = request.operation_name
        plans = self.plans
        if plans is not None:
            plan = plans.get(text, name)
            if plan is not None:
                answer, spent = await plan.run(context, request.variables, sql=plans.in_sql)
                if answer is not None:
                    plans.answered += 1
                    return answer
                plans.declined += 1
                if fresh_context is not None:
                    context = fresh_context()
                if spent:
                    context.budget = None
        result = await self.schema.execute(
            text,
            variable_values=request.variables,
            context_value=context,
            operation_name=name,
            allowed_operation_types=allowed,
            operation_extensions=request.extensions,
        )
        if plans is not None and not result.errors and not plans.knows(text, name):
            plans.learn(text, name)
        return result


def _name_operation(operation: OperationDefinitionNode | None) -> None:
    """Name the current operation's span and log line after the document read."""
    if operation is None:
        return
    span = trace.get_current_span()
    span.set_attribute(OPERATION_TYPE, operation.operation.value)
    if operation.name is not None:
        name = operation.name.value
        span.update_name(f"graphql {name}")
        span.set_attribute(OPERATION_NAME, name)
        note_operation_name(name)
