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

Each operation runs inside ``OperationPipeline.operation``, the one place it is
instrumented, whatever its transport: its trace span starts there (app/tracing.py), its
request's log line learns what ran (app/request_log.py), and the ``Instrumented`` it
yields carries the labels of its latency metric (app/metrics.py) as admission and
execution learn them: name, transport and execution path, in app/vocabulary.py's words.
``execute`` times a query or mutation to its result; app/ws.py times a WebSocket
operation from the same admission to its first answer. Every error code the policy
gives is counted too.

A rule added to one of these steps holds on every transport with no code of its own
there. The request-level limit shared by the transports is here too: an HTTP body and a
WebSocket message are both limited to ``REQUEST_BYTES``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from opentelemetry.trace import Span, Status, StatusCode
from starlette.datastructures import State
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import metrics
from app.persisted import PersistedQueries, PersistedQueryError
from app.request_log import note_operation, note_operation_name
from app.settings import Settings
from app.tracing import EXECUTION_PATH, OPERATION_NAME, OPERATION_TYPE, Tracing
from app.vocabulary import COMPILED_PLAN, GENERIC, HTTP_POST, REFUSED, SQL_PLAN
from resolvers.context import Context
from schema.definition import OrderCenterSchema
from schema.documents import TOO_LARGE, WHICH_OPERATION, oversized, too_large
from schema.plans import PlanAnswer, Plans

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


class Instrumented:
    """One operation as its instruments see it (made by ``OperationPipeline.operation``):
    its span, and the labels its latency is observed under, which admission (the name)
    and execution (the path) fill in. Until then it counts as refused."""

    __slots__ = ("label", "path", "span", "started", "timed", "transport")

    def __init__(self, span: Span, transport: str, label: str, timed: bool) -> None:
        self.span = span
        self.transport = transport
        self.label = label
        self.path = REFUSED
        self.started = time.perf_counter()
        self.timed = timed  # metrics on

    def named(self, operation: OperationDefinitionNode | None, label: str) -> None:
        """The operation the document chose: the span's name and type, the log line's
        operation, the metrics' label."""
        self.label = label
        if operation is None:
            return
        self.span.set_attribute(OPERATION_TYPE, operation.operation.value)
        if operation.name is not None:
            name = operation.name.value
            self.span.update_name(f"graphql {name}")
            self.span.set_attribute(OPERATION_NAME, name)
            note_operation_name(name)

    def refused(self, refused: Refused) -> None:
        code = (refused.error.extensions or {}).get("code")
        self.span.set_status(Status(StatusCode.ERROR, str(code)))

    def took(self, path: str) -> None:
        """The execution path that answered: the span's attribute and the metrics' label."""
        self.path = path
        self.span.set_attribute(EXECUTION_PATH, path)

    def observe(self) -> None:
        """Its latency, from its start to now, under its labels (with metrics on)."""
        if self.timed:
            seconds = time.perf_counter() - self.started
            metrics.observe_operation(self.label, self.transport, self.path, seconds)


class OperationPipeline:
    def __init__(
        self, schema: OrderCenterSchema, settings: Settings, tracing: Tracing | None = None
    ) -> None:
        self.schema = schema
        self.settings = settings
        # Made once: every request's context carries them, and the settings' property
        # builds them anew (five timedeltas) each time it is read.
        self.rules = settings.rules
        self.tracing = tracing or Tracing()
        self.persisted = PersistedQueries.from_settings(settings)
        self.plans = Plans(schema, settings.limits) if settings.compiled_plans else None
        self.metrics = settings.metrics_exposure != "off"
        self.names = metrics.OperationNames()
        if self.metrics:
            schema.error_policy = replace(schema.error_policy, observe=metrics.count_error)

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
            rules=self.rules,
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
    ) -> Iterator[Instrumented]:
        """Where every operation runs, whatever its transport: its span (current inside),
        its request's log line's operation, transport and viewer, and its metrics' labels.

        The name is the request's ``operationName`` until ``admit`` reads the document;
        the caller times it (``Instrumented.observe``) when its answer is out."""
        name = request.operation_name if isinstance(request.operation_name, str) else None
        with self.tracing.operation(name, transport=transport, request_id=request_id) as span:
            note_operation(name, transport, viewer_id)
            yield Instrumented(span, transport, self._label(name), self.metrics)

    def _label(self, name: str | None) -> str:
        """An operation's name as metrics label it ("" with metrics off)."""
        return self.names.label(name) if self.metrics else ""

    def admit(
        self,
        request: OperationRequest,
        request_id: str | None = None,
        instrumented: Instrumented | None = None,
    ) -> str:
        """Steps 1-3: the document text to run, or Refused. ``instrumented`` (the
        operation's, from ``operation``) learns which operation it is, or the refusal."""
        try:
            text, document = self._admit(request, request_id)
        except Refused as refused:
            if instrumented is not None:
                instrumented.refused(refused)
            raise
        if instrumented is not None:
            operation = _operation_of(document, request.operation_name)
            name = operation.name.value if operation and operation.name else None
            instrumented.named(operation, self._label(name))
        return text

    def _admit(
        self, request: OperationRequest, request_id: str | None
    ) -> tuple[str, DocumentNode | None]:
        """Steps 1-3 themselves: the text to run and its document, or Refused."""
        policy = self.schema.error_policy
        limit = self.schema.documents.max_bytes
        if isinstance(request.query, str) and (size := oversized(request.query, limit)):
            raise Refused(policy.one(too_large(size, limit), request_id), 413)
        try:
            text = self.persisted.resolve(request.query, request.extensions)
        except PersistedQueryError as error:
            raise Refused(policy.one(error.graphql_error(), request_id), error.status) from None
        try:
            reading = self.schema.documents.admit(text, request.variables, request.operation_name)
        except GraphQLError as error:
            status = _STATUS.get((error.extensions or {}).get("code"))
            raise Refused(policy.one(error, request_id), status) from None
        return text, reading.document

    async def execute(
        self,
        request: OperationRequest,
        context: Context,
        *,
        allowed: Collection[OperationType] = ALL_OPERATIONS,
        fresh_context: Callable[[], Context] | None = None,
        transport: str = HTTP_POST,
    ) -> ExecutionResult:
        """A query or mutation's result; Refused before anything runs.

        ``fresh_context`` gives the generic run new loaders when a compiled plan
        declined part-way (the budget is not charged twice). ``transport`` (one of
        app/vocabulary.py's) labels its span, log line and metrics; its latency is
        timed inside its span, to its result."""
        with self.operation(
            request,
            transport=transport,
            request_id=context.request_id,
            viewer_id=context.viewer_id,
        ) as instrumented:
            try:
                result = await self._execute(request, context, allowed, fresh_context, instrumented)
            finally:
                instrumented.observe()
            if result.errors:
                codes = [str((e.extensions or {}).get("code", "")) for e in result.errors]
                instrumented.span.set_status(
                    Status(StatusCode.ERROR, ", ".join(dict.fromkeys(codes)))
                )
            return result

    async def _execute(
        self,
        request: OperationRequest,
        context: Context,
        allowed: Collection[OperationType],
        fresh_context: Callable[[], Context] | None,
        instrumented: Instrumented,
    ) -> ExecutionResult:
        """The result; ``instrumented`` learns the operation and the path that answered."""
        text = self.admit(request, context.request_id, instrumented)
        name = request.operation_name
        plans = self.plans
        if plans is not None:
            plan = plans.get(text, name)
            if plan is not None:
                answer, spent = await plan.run(context, request.variables, sql=plans.sql_dialect)
                if answer is not None:
                    plans.answered += 1
                    in_sql = isinstance(answer, PlanAnswer) and answer.in_sql
                    instrumented.took(SQL_PLAN if in_sql else COMPILED_PLAN)
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
        instrumented.took(GENERIC)
        return result
