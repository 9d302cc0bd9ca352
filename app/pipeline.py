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

Metrics (app/metrics.py) are taken here too: each operation's latency by name,
transport and path (WebSocket operations are timed by app/ws.py from this admission),
and every error code the policy gives.

A rule added to one of these steps holds on every transport with no code of its own
there. The request-level limit shared by the transports is here too: an HTTP body and a
WebSocket message are both limited to ``REQUEST_BYTES``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from graphql import GraphQLError
from starlette.datastructures import State
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import metrics
from app.persisted import PersistedQueries, PersistedQueryError
from app.settings import Settings
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


class OperationPipeline:
    def __init__(self, schema: OrderCenterSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
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
            rules=settings.rules,
            refresher=getattr(state, "refresher", None),
            budget=getattr(state, "budget", None),
            rate_key=rate_key(viewer_id, client_host),
            hub=hub,
            auth_problem=auth_problem,
        )

    def admit(self, request: OperationRequest, request_id: str | None = None) -> str:
        """Steps 1-3: the document text to run, or Refused."""
        return self.admission(request, request_id)[0]

    def admission(self, request: OperationRequest, request_id: str | None) -> tuple[str, str]:
        """Steps 1-3: the document text to run and the operation's name as metrics label
        it ("" with metrics off), or Refused."""
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
        label = self.names.label(request.operation_name, reading.document) if self.metrics else ""
        return text, label

    def refused_label(self, request: OperationRequest) -> str:
        """The metrics label of an operation refused before its document was read."""
        return self.names.label(request.operation_name, None)

    async def execute(
        self,
        request: OperationRequest,
        context: Context,
        *,
        allowed: Collection[OperationType] = ALL_OPERATIONS,
        fresh_context: Callable[[], Context] | None = None,
        transport: str = "http-post",
    ) -> ExecutionResult:
        """A query or mutation's result; Refused before anything runs.

        ``fresh_context`` gives the generic run new loaders when a compiled plan
        declined part-way (the budget is not charged twice). ``transport`` labels
        its metrics."""
        if not self.metrics:
            return (await self._execute(request, context, allowed, fresh_context))[0]
        started = time.perf_counter()
        label, path = self.refused_label(request), metrics.REFUSED
        try:
            result, label, path = await self._execute(request, context, allowed, fresh_context)
        finally:
            metrics.observe_operation(label, transport, path, time.perf_counter() - started)
        return result

    async def _execute(
        self,
        request: OperationRequest,
        context: Context,
        allowed: Collection[OperationType],
        fresh_context: Callable[[], Context] | None,
    ) -> tuple[ExecutionResult, str, str]:
        """The result, the operation's label and the execution path that answered."""
        text, label = self.admission(request, context.request_id)
        name = request.operation_name
        plans = self.plans
        if plans is not None:
            plan = plans.get(text, name)
            if plan is not None:
                answer, spent = await plan.run(context, request.variables, sql=plans.in_sql)
                if answer is not None:
                    plans.answered += 1
                    in_sql = isinstance(answer, PlanAnswer) and answer.in_sql
                    path = metrics.SQL_PLAN if in_sql else metrics.COMPILED_PLAN
                    return answer, label, path
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
        return result, label, metrics.GENERIC
