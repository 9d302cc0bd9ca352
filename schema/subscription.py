"""Live order-status changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Hashable
from typing import Annotated, Any, cast

import strawberry
from graphql import ExecutionResult
from graphql.pyutils import AwaitableOrValue, is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from db.models import Order as OrderRow
from resolvers import policy
from resolvers.context import Context
from resolvers.errors import ClientError, InvalidArgument
from resolvers.ids import expect_global_id
from resolvers.subscriptions.hub import Delivery, SlowConsumer
from resolvers.subscriptions.lane import current_lane
from schema.common import Info
from schema.orders import OrderEvent

MAX_CURSOR = 2**63 - 1


class OrderNotFound(ClientError):
    code = "NOT_FOUND"


class TooSlow(ClientError):
    code = "SLOW_CONSUMER"


def parse_after(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or int(after) > MAX_CURSOR:
        raise InvalidArgument("`after` is not a valid event cursor.", argument="after")
    return int(after)


class LiveOrderEvent(OrderEvent):
    """An OrderEvent as the hub delivered it: one object per event for all its
    subscribers, holding the results rendered for them (see SharedEventExecution)."""

    order_row: OrderRow
    results: dict[Hashable, Any]

    @classmethod
    def of(cls, delivery: Delivery) -> LiveOrderEvent:
        node = delivery.shared.get(cls)
        if node is None:
            node = cast(LiveOrderEvent, cls.from_row(delivery.event))  # from_row builds a cls
            node.order_row = delivery.order
            node.results = {}
            delivery.shared[cls] = node
        return node


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Runs a live event's selection set once per (viewer, operation, variables).

    Without it every subscriber of an event executes the same selection on the same
    data: with a thousand subscriptions of one buyer (tabs, devices, dashboards) that
    is a thousand identical executions. The viewer is part of the key because what an
    order shows depends on who looks (availableActions, viewerHasTagged, payments).
    A result with errors is not shared: each subscriber gets its own.
    """

    def build_per_event_executor(self, payload: Any) -> Any:
        # A subscriber whose result is already rendered needs no executor of its own
        # (building one copies the whole executor): it gets the rendered result.
        if isinstance(payload, LiveOrderEvent) and (key := self._sharing_key()) is not None:
            shared = payload.results.get(key)
            if isinstance(shared, ExecutionResult) and not shared.errors:
                return SharedResult(shared)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        node = self.root_value
        if not isinstance(node, LiveOrderEvent):
            return super().execute_operation(serially)
        key = self._sharing_key()
        shared = None if key is None else node.results.get(key)
        if shared is None:
            result = self._execute_fresh(node, serially)
            if key is None:
                return result
            if not is_awaitable(result):
                node.results[key] = result
                return result
            task = asyncio.ensure_future(result)
            node.results[key] = task
            # Shielded: if this subscriber leaves, the others still get the result.
            return asyncio.shield(task)
        if isinstance(shared, asyncio.Future):
            return self._await_shared(shared, node, serially)
        if shared.errors:
            return self._execute_fresh(node, serially)
        return shared

    def _sharing_key(self) -> Hashable | None:
        """The same for every event of this subscription (worked out once)."""
        try:
            return cast(Hashable | None, self.__dict__["_ordercenter_key"])
        except KeyError:
            pass
        context = self.context_value
        key: Hashable | None = None
        if isinstance(context, Context):
            variables = tuple(sorted(self.variable_values.coerced.items()))
            key = (context.viewer_id, id(self.operation), variables)
            try:
                hash(key)
            except TypeError:
                key = None
        self.__dict__["_ordercenter_key"] = key
        return key

    def _execute_fresh(self, node: LiveOrderEvent, serially: bool | None) -> AwaitableOrValue[Any]:
        context = self.context_value
        if isinstance(context, Context):
            # Fresh loaders per event (nothing cached goes stale), with the order the
            # hub read alongside the event: no query for it.
            context.refresh_loaders()
            if node.order_row.id is not None:
                context.loaders.order_by_id.prime(node.order_row.id, node.order_row)
        return super().execute_operation(serially)

    async def _await_shared(
        self, shared: asyncio.Future[ExecutionResult], node: LiveOrderEvent, serially: bool | None
    ) -> ExecutionResult:
        result = await asyncio.shield(shared)
        if result.errors:
            own = self._execute_fresh(node, serially)
            return cast(ExecutionResult, await own if is_awaitable(own) else own)
        return result


class SharedResult:
    """Stands in for a per-event executor when the event's result is already rendered
    for the same viewer, operation and variables."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


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
        order_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Follow this order only; otherwise all yours."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="An OrderEvent.cursor to resume after."),
        ] = None,
    ) -> AsyncGenerator[OrderEvent, None]:
        ctx = info.context
        viewer = await policy.current_viewer(ctx)
        cursor = parse_after(after)
        order_pk = None
        if order_id is not None:
            order_pk = expect_global_id(order_id, "Order", argument="orderId")
            order = await ctx.loaders.order_by_id.load(order_pk)
            if order is None or not await policy.can_see_order(ctx, order):
                raise OrderNotFound("No such order.", argument="orderId")
        events = ctx.hub.subscribe(
            user_id=None if order_pk is not None else viewer.id, order_id=order_pk, after=cursor
        )
        last = cursor
        lane = current_lane.get()
        try:
            async for delivery in events:
                last = delivery.event.id
                if lane is None:
                    yield LiveOrderEvent.of(delivery)
                    continue
                slot = delivery.shared.get(lane.key)
                if slot is None:
                    # This subscription renders the event for every one on its lane.
                    slot = delivery.shared[lane.key] = asyncio.get_running_loop().create_future()
                    lane.rendering = slot
                    try:
                        yield LiveOrderEvent.of(delivery)
                    finally:
                        lane.rendered(None)  # no-op once the transport handed it over
                    continue
                # Usually rendered already (the renderer ran first); otherwise wait for it
                # without letting this subscriber's cancellation cancel the others' slot.
                payload = slot.result() if slot.done() else await asyncio.shield(slot)
                if payload is None:
                    yield LiveOrderEvent.of(delivery)
                else:
                    await lane.send_text(lane.frame(payload))
        except SlowConsumer:
            resume = "" if last is None else f' Resume with after: "{last}".'
            raise TooSlow(
                f"Too slow: events were arriving faster than you read them.{resume}"
            ) from None
        finally:
            await events.aclose()
