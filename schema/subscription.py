"""Live order-status changes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers import policy
from resolvers.errors import ClientError, InvalidArgument
from resolvers.ids import expect_global_id
from resolvers.subscriptions.hub import SlowConsumer
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
        try:
            async for event, order in events:
                ctx.refresh_loaders()
                if order.id is not None:
                    ctx.loaders.order_by_id.prime(order.id, order)
                last = event.id
                yield OrderEvent.from_row(event)
        except SlowConsumer:
            resume = "" if last is None else f' Resume with after: "{last}".'
            raise TooSlow(
                f"Too slow: events were arriving faster than you read them.{resume}"
            ) from None
        finally:
            await events.aclose()
