"""Abuse limits checked before execution: size, tokens, depth, aliases and cost.

Each refusal is a GraphQL error with ``extensions.code``; nothing is executed. The
cost of every executed operation is reported in ``extensions.cost``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionResult

from internals import graphql_schema
from schema.cost import CostModel, operation_cost
from schema.documents import Documents, document_gate


class Spend(Protocol):
    allowed: bool
    remaining: int
    retry_after: float


class CostBudget(Protocol):
    """A caller's cost allowance per minute (in memory, or shared through Redis)."""

    async def spend(self, key: str, cost: int) -> Spend: ...


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 3000
    max_cost: int = 10_000
    cost_model: CostModel = field(default_factory=CostModel)
    introspection: bool = True
    # Raw document text, in bytes; the HTTP body and WebSocket messages are larger.
    max_document_bytes: int = 65_536
    suggestions: bool = True  # "Did you mean …?" in errors; off in production


def _refuse(message: str, code: str, **extensions: Any) -> ExecutionResult:
    error = GraphQLError(message, extensions={"code": code, **extensions})
    return ExecutionResult(data=None, errors=[error])


def cost_results(cost: int, limits: Limits) -> dict[str, Any]:
    """What an executed operation reports in ``extensions``.

    The same for the same operation: the remaining budget is not part of the answer,
    so two answers can be compared (and reveal nothing about others).
    """
    return {"cost": {"requested": cost, "maximum": limits.max_cost}}


@dataclass(frozen=True, slots=True)
class Charge:
    """An operation's cost checked against the limit and charged to the caller's budget."""

    refusal: ExecutionResult | None  # QUERY_TOO_COSTLY or RATE_LIMITED; None: go ahead
    spent: bool  # the caller's budget was charged (a second run must not charge it again)
    remaining: int | None = None


async def charge(context: Any, cost: int, limits: Limits) -> Charge:
    """What both the generic path (QueryCost) and compiled plans do before executing."""
    if cost > limits.max_cost:
        return Charge(
            _refuse(
                f"This operation would cost {cost}; the limit is {limits.max_cost}. "
                "Ask for smaller pages or fewer fields.",
                "QUERY_TOO_COSTLY",
                cost=cost,
                maxCost=limits.max_cost,
            ),
            spent=False,
        )
    budget: CostBudget | None = getattr(context, "budget", None)
    key: str | None = getattr(context, "rate_key", None)
    if budget is None or key is None:
        return Charge(None, spent=False)
    spend = await budget.spend(key, cost)
    if not spend.allowed:
        retry = math.ceil(spend.retry_after)
        refusal = _refuse(
            f"Too many requests: your query budget refills in {retry} s.",
            "RATE_LIMITED",
            retryAfter=retry,
            cost=cost,
        )
        return Charge(refusal, spent=False, remaining=spend.remaining)
    return Charge(None, spent=True, remaining=spend.remaining)


def query_cost_extension(limits: Limits) -> Callable[[], SchemaExtension]:
    class QueryCost(SchemaExtension):
        def __init__(self) -> None:
            self.cost: int | None = None
            self.remaining: int | None = None

        async def on_execute(self) -> AsyncIterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None:
                self.cost = operation_cost(
                    graphql_schema(context.schema),
                    document,
                    context.operation_name,
                    context.variables,
                    limits.cost_model,
                )
                refusal = await self._check(self.cost)
                if refusal is not None and refusal.errors:
                    # Raised rather than set as the result: a subscription's run does
                    # not look at a result set here, and would go on without a budget.
                    raise refusal.errors[0]
            yield

        async def _check(self, cost: int) -> ExecutionResult | None:
            charged = await charge(self.execution_context.context, cost, limits)
            self.remaining = charged.remaining
            return charged.refusal

        def get_results(self) -> dict[str, Any]:
            if self.cost is None:
                return {}
            return cost_results(self.cost, limits)

    return QueryCost


class ReleaseReads(SchemaExtension):
    """Keeps the request's reads connection across its waves, and gives it back at the end.

    Between the two the operation runs every wave on one pooled connection (see
    ``resolvers.batching.Reads``); it is back in the pool before the answer leaves.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        loaders = getattr(self.execution_context.context, "loaders", None)
        if loaders is None:
            yield
            return
        scheduler = loaders.scheduler
        scheduler.keep_reads(True)
        try:
            yield
        finally:
            scheduler.keep_reads(False)
            await scheduler.aclose()


def extensions_for(limits: Limits, documents: Documents) -> list[Callable[[], SchemaExtension]]:
    # The limiters make a new rule class per instance, and the rule classes are part of
    # the validation cache's key: built per request, they would make every lookup a miss.
    depth_rules = QueryDepthLimiter(max_depth=limits.max_depth).validation_rules
    alias_rules = MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules
    extensions: list[Callable[[], SchemaExtension]] = [
        ReleaseReads,
        # Size, tokens, shape and NUL checks, then parsing and validation once per
        # distinct document, from a cache bounded in bytes (schema/documents.py).
        document_gate(documents),
        lambda: AddValidationRules(depth_rules),
        lambda: AddValidationRules(alias_rules),
        query_cost_extension(limits),
    ]
    if not limits.introspection:
        extensions.append(DisableIntrospection)
    return extensions
