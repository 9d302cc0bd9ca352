"""The Schema object, and what happens to errors on their way out."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext, ExecutionResult

from internals import ResultHookSchema
from resolvers.subscriptions.lane import current_lane
from schema.activity import Recommendation, TaggedItem
from schema.catalog import Product, Shop
from schema.documents import Documents
from schema.error_policy import ErrorPolicy, is_expected
from schema.limits import Limits, extensions_for
from schema.order_mutations import OrderMutations
from schema.orders import Order, OrderEvent
from schema.payments import Payment, PaymentMethod
from schema.query import Query
from schema.return_mutations import ReturnMutations
from schema.returns import OrderReturn
from schema.review_mutations import ReviewMutations
from schema.reviews import Review
from schema.shopper_mutations import ShopperMutations
from schema.subscription import Subscription, wraps_resolvers
from schema.user import User

log = logging.getLogger("ordercenter.graphql")


class OrderCenterSchema(ResultHookSchema):
    # Set by build_schema: the document cache every transport reads through, and what
    # errors look like on their way out.
    documents: Documents
    error_policy: ErrorPolicy

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        runner = super().create_extensions_runner(execution_context, extensions)
        # An operation the transport offers the direct lane (resolvers/subscriptions/
        # lane.py): its resolver can hand over once subscribed, with this pipeline's
        # extensions results for the payloads to come.
        lane = current_lane.get()
        if (
            lane is not None
            and lane.pipeline is None
            and not lane.taken
            and not any(wraps_resolvers(extension) for extension in extensions)
        ):
            lane.pipeline = runner
        return runner

    def finish_result(self, context: ExecutionContext, answer: ExecutionResult) -> None:
        if answer.errors:
            # Every result Strawberry hands a transport passes here (executed, refused
            # before execution, or failed in an extension's hook): the one place its
            # errors are masked and coded.
            answer.errors = self.error_policy.finish(answer.errors, _request_id(context))

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = _request_id(execution_context)
        for error in errors:
            if not is_expected(error):
                log.error(
                    "unexpected error in %s (request %s)",
                    error.path,
                    request_id,
                    exc_info=error.original_error,
                )


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context: Any = None if execution_context is None else execution_context.context
    return getattr(context, "request_id", None)


@strawberry.type(description="Everything that changes the Order Center.")
class Mutation(OrderMutations, ShopperMutations, ReviewMutations, ReturnMutations):
    pass


def build_schema(limits: Limits | None = None) -> OrderCenterSchema:
    """The schema with the given abuse limits (the SDL does not depend on them)."""
    limits = limits or Limits()
    documents = Documents(max_bytes=limits.max_document_bytes, max_tokens=limits.max_tokens)
    built = OrderCenterSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            User,
            Order,
            OrderEvent,
            OrderReturn,
            Shop,
            Product,
            Payment,
            PaymentMethod,
            Recommendation,
            TaggedItem,
            Review,
        ],
        extensions=extensions_for(limits, documents),
    )
    built.documents = documents
    built.error_policy = ErrorPolicy(suggestions=limits.suggestions)
    return built


schema = build_schema()
