"""Live order events: status changes (orderStatusChanged) and every kind (orderUpdated).

The resolver checks who may follow what and where to resume, then opens a hub
subscriber. On a WebSocket (either protocol) it hands that subscriber over to the
transport (the direct lane, resolvers/subscriptions/lane.py) and returns: each event is
then rendered once per viewer and document by ``LiveSelection``, the one render path of
live events. An in-process caller of ``schema.subscribe`` (no transport, so no lane)
gets each event through Strawberry's own pipeline instead, as ``ExecutionResult``s:
what such a caller wants, and no fan-out to share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Hashable
from typing import Annotated, Any, cast
from weakref import WeakValueDictionary

import orjson
import strawberry
from graphql import DocumentNode, ExecutionResult, GraphQLError, execute_subscription_event
from graphql.pyutils import is_awaitable
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from db.models import Order as OrderRow
from domain.order_events import STATUS_CHANGES
from internals import graphql_schema
from resolvers import policy
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.ids import expect_global_id
from resolvers.subscriptions.checks import checking
from resolvers.subscriptions.cursors import event_cursor, event_id_after
from resolvers.subscriptions.hub import Delivery, SlowConsumer, Subscriber
from resolvers.subscriptions.lane import Lane, current_lane
from schema.common import Info
from schema.orders import OrderEvent


class OrderNotFound(ClientError):
    code = "NOT_FOUND"


class TooSlow(ClientError):
    code = "SLOW_CONSUMER"


class ServerBusy(ClientError):
    """No database connection came free in time for a subscribe's checks: nothing was
    registered, and the same subscribe a little later works."""

    code = "SERVER_BUSY"


def _resume(last: int | None) -> str:
    return "" if last is None else f' Resume with after: "{event_cursor(last)}".'


def too_slow(last: int | None) -> TooSlow:
    return TooSlow(f"Too slow: events were arriving faster than you read them.{_resume(last)}")


def too_busy(last: int | None) -> ServerBusy:
    """A replay that found no database connection free in time (the pool's timeout)."""
    return ServerBusy(f"The server is too busy to read your events now.{_resume(last)}")


def parse_after(after: str | None) -> int | None:
    if after is None:
        return None
    return event_id_after(after)


class LiveOrderEvent(OrderEvent):
    """An OrderEvent as the hub delivered it: one object per event for all its
    subscribers, with the order the hub read alongside it."""

    order_row: OrderRow

    @classmethod
    def of(cls, delivery: Delivery) -> LiveOrderEvent:
        node = delivery.shared.get(cls)
        if node is None:
            node = cls.from_row(delivery.event)
            node.order_row = delivery.order
            delivery.shared[cls] = node
        return node


def fresh_reads(context: Context, node: LiveOrderEvent) -> None:
    """Before an event is rendered: fresh loaders (nothing cached goes stale between
    events), primed with the order the hub read alongside the event (no query for it)."""
    context.refresh_loaders()
    if node.order_row.id is not None:
        context.loaders.order_by_id.prime(node.order_row.id, node.order_row)


class LiveSelection:
    """How the events of one lane key render (resolvers/subscriptions/lane.py): the
    operation's validated document, variables and name, and its subscribe-time
    extensions results (the cost), which every payload carries. One per key at a time
    (``of``), shared by every operation of that key while any is live; it renders each
    event once (``payload``) for all of them.
    """

    __slots__ = (
        "__weakref__",
        "document",
        "extensions",
        "operation_name",
        "schema",
        "variables",
    )

    # (schema id, viewer, document, variables, operation name) -> its selection. A
    # selection holds its schema, so the id stays that schema's while the entry lives.
    _live: WeakValueDictionary[Hashable, LiveSelection] = WeakValueDictionary()

    def __init__(
        self,
        schema: Any,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.operation_name = operation_name
        self.extensions = extensions

    @classmethod
    async def of(cls, pipeline: SchemaExtensionsRunner, viewer_id: int | None) -> LiveSelection:
        """The selection of the subscription this subscribe-time pipeline runs."""
        execution = pipeline.execution_context
        if execution.graphql_document is None:  # pragma: no cover - it is executing
            raise RuntimeError("a subscription is executing without a document")
        # As str: orjson's bytes keep ~4 KB of spare capacity, and the key lives as long
        # as the selection.
        try:
            variables = orjson.dumps(execution.variables, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # what orjson cannot write, an unused 100-digit number say
            variables = json.dumps(execution.variables, sort_keys=True, default=repr)
        name = execution.operation_name
        key = (id(execution.schema), viewer_id, execution.query, variables, name)
        selection = cls._live.get(key)
        if selection is None:
            # Asked now, as the pipeline would for the first result: what they say is
            # the operation's (its cost), the same for each of its events.
            extensions = await pipeline.get_extensions_results(execution)
            selection = cls(
                execution.schema,
                execution.graphql_document,
                execution.variables,
                execution.operation_name,
                extensions,
            )
            cls._live[key] = selection
        return selection

    def rendered(self, delivery: Delivery) -> str | None:
        """This event's payload if it is rendered for every operation already."""
        slot: asyncio.Future[str | None] | None = delivery.shared.get(self)
        return slot.result() if slot is not None and slot.done() else None

    async def payload(self, context: Context, delivery: Delivery) -> str:
        """This event's encoded payload, rendered once for every operation of this
        selection: the first to get here renders it, the others wait for that. A
        rendering with errors is not shared: each then renders its own."""
        slot: asyncio.Future[str | None] | None = delivery.shared.get(self)
        if slot is None:
            slot = delivery.shared[self] = asyncio.get_running_loop().create_future()
            shared = None
            try:
                payload, shared = await self.render(context, delivery)
            finally:
                # Also when this operation is cancelled or fails: the others render then.
                if not slot.done():
                    slot.set_result(shared)
            return payload
        # Usually rendered already (the renderer ran first); otherwise wait for it
        # without letting this operation's cancellation cancel the others' slot.
        rendered = slot.result() if slot.done() else await asyncio.shield(slot)
        if rendered is None:
            payload, _ = await self.render(context, delivery)
            return payload
        return rendered

    async def render(self, context: Context, delivery: Delivery) -> tuple[str, str | None]:
        """The payload of this event for ``context``'s viewer, and the same again when
        it may be shared (no errors), else None."""
        node = LiveOrderEvent.of(delivery)
        fresh_reads(context, node)
        scheduler = context.loaders.scheduler
        # As ReleaseReads does for an operation: the event's waves share one
        # connection, back in the pool once it is rendered.
        scheduler.keep_reads(True)
        try:
            # The spec's ExecuteSubscriptionEvent: the selection set on the event, with
            # the executor class Strawberry's own execution uses.
            executor = self.schema.execution_context_class.build(
                graphql_schema(self.schema),
                self.document,
                node,
                context,
                self.variables,
                self.operation_name,
                # What Strawberry's own execution passes (typed as a plain bool check).
                is_awaitable=cast(Any, optimized_is_awaitable),
            )
            if isinstance(executor, list):  # pragma: no cover - the pipeline coerced them
                result = ExecutionResult(None, executor)
            else:
                outcome = execute_subscription_event(executor)
                result = cast(ExecutionResult, await outcome if is_awaitable(outcome) else outcome)
        finally:
            scheduler.keep_reads(False)
            await scheduler.aclose()
            # This event's rows are not kept until the next one.
            context.refresh_loaders()
        if result.errors:
            return self._encode(context, result.data, result.errors), None
        payload = self._encode(context, result.data, None)
        return payload, payload

    def error_payload(self, context: Context, error: Exception) -> str:
        """The payload that ends the operation with ``error``, as the pipeline answers
        an error raised by the resolver's stream."""
        if not isinstance(error, GraphQLError):
            error = GraphQLError(str(error), original_error=error)
        return self._encode(context, None, [error])

    def _encode(self, context: Context, data: Any, errors: list[GraphQLError] | None) -> str:
        # As the pipeline answers: errors go through the schema's process_errors (which
        # logs unexpected ones) and its error policy (masking, codes), and each payload
        # carries the extensions' results; these are the operation's, whatever the event.
        payload: dict[str, Any] = {"data": data}
        if errors:
            execution = ExecutionContext(
                query=None,
                schema=self.schema,
                allowed_operations=(OperationType.SUBSCRIPTION,),
                context=context,
            )
            self.schema.process_errors(errors, execution)
            errors = self.schema.error_policy.finish(errors, context.request_id)
            payload["errors"] = [error.formatted for error in errors]
        if self.extensions:
            payload["extensions"] = self.extensions
        return orjson.dumps(payload).decode()


def wraps_resolvers(extension: SchemaExtension) -> bool:
    """An extension with a ``resolve`` hook sees each field of each execution: the lane
    (which shares one rendering between operations) is then not on offer."""
    return type(extension).resolve is not SchemaExtension.resolve


async def open_feed(
    ctx: Context,
    order_id: strawberry.ID | None,
    after: str | None,
    kinds: frozenset[str] | None,
) -> Subscriber:
    """The subscribe-time checks, then the hub subscriber (registered) they allow, for
    events of ``kinds`` (None: every kind). The checks' reads are shared with every
    other subscribe in flight (resolvers/subscriptions/checks.py); a pool with no
    connection to spare in time is SERVER_BUSY, and nothing is registered."""
    hub = ctx.hub
    checks = checking(ctx, hub.checks)
    try:
        viewer = await policy.current_viewer(checks)
        cursor = parse_after(after)
        order_pk = None
        if order_id is not None:
            order_pk = expect_global_id(order_id, "Order", argument="orderId")
            order = await checks.loaders.order_by_id.load(order_pk)
            if order is None or not await policy.can_see_order(checks, order):
                raise OrderNotFound("No such order.", argument="orderId")
    except PoolTimeout:
        raise ServerBusy(
            "The server is too busy to subscribe you now: subscribe again in a few seconds."
        ) from None
    subscriber: Subscriber = hub.open(
        user_id=None if order_pk is not None else viewer.id,
        order_id=order_pk,
        after=cursor,
        kinds=kinds,
    )
    return subscriber


async def hand_over(lane: Lane, feed: Subscriber, ctx: Context) -> None:
    """Give the transport this subscription's feed and selection; the pipeline ends."""
    pipeline, lane.pipeline = lane.pipeline, None
    lane.selection = await LiveSelection.of(pipeline, ctx.viewer_id)
    lane.feed = feed
    # The rows the checks read are not needed any more (the pipeline gives the
    # connection back as it ends).
    ctx.refresh_loaders()


async def follow(
    info: Info, order_id: strawberry.ID | None, after: str | None, kinds: frozenset[str] | None
) -> AsyncGenerator[OrderEvent, None]:
    """The one stream of every order-event subscription, for events of ``kinds`` (None:
    every kind): the subscribe-time checks and the hub subscriber (``open_feed``), then
    either the hand-over to the transport's lane (a WebSocket) or each event through
    Strawberry's own pipeline (an in-process ``schema.subscribe``)."""
    ctx = info.context
    feed = await open_feed(ctx, order_id, after, kinds)
    lane = current_lane.get()
    if lane is not None and lane.pipeline is not None:
        try:
            await hand_over(lane, feed, ctx)
        except BaseException:
            feed.close()
            raise
        return
    try:
        while True:
            node = LiveOrderEvent.of(await feed.next())
            # Resumed just before graphql-core executes the event's selection.
            fresh_reads(ctx, node)
            yield node
    except SlowConsumer:
        raise too_slow(feed.last) from None
    except PoolTimeout:
        raise too_busy(feed.last) from None
    finally:
        feed.close()


ORDER_ID = strawberry.argument(description="Follow this order only; otherwise all yours.")
AFTER = strawberry.argument(
    description="An OrderEvent.cursor to resume after (a bare event id, the cursor of "
    "earlier versions, still works)."
)


@strawberry.type(description="Live updates.")
class Subscription:
    @strawberry.subscription(
        description="Every status change of the viewer's orders, or of one order (its buyer, "
        "or the seller of its shop). With `after`: the changes since that cursor first, then "
        "live ones, with no gap and no duplicate. Per order, in version order."
    )
    async def order_status_changed(
        self,
        info: Info,
        order_id: Annotated[strawberry.ID | None, ORDER_ID] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> AsyncGenerator[OrderEvent, None]:
        async with contextlib.aclosing(follow(info, order_id, after, STATUS_CHANGES)) as events:
            async for event in events:
                yield event

    @strawberry.subscription(
        description="Everything that happens to the viewer's orders, or to one order (its "
        "buyer, or the seller of its shop): status changes, carrier scans, payments, refunds, "
        "return and review steps (see `OrderEvent.kind`), in cursor order. With `after`: the "
        "events since that cursor first, then live ones, with no gap and no duplicate; one "
        "cursor resumes every kind, and a cursor of `orderStatusChanged` resumes here too."
    )
    async def order_updated(
        self,
        info: Info,
        order_id: Annotated[strawberry.ID | None, ORDER_ID] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> AsyncGenerator[OrderEvent, None]:
        async with contextlib.aclosing(follow(info, order_id, after, None)) as events:
            async for event in events:
                yield event
