"""``node``/``nodes``: a global id to a row the viewer may see, or None."""

from __future__ import annotations

from typing import Any

from resolvers import policy
from resolvers.context import Context
from resolvers.ids import from_global_id


async def load_node(
    ctx: Context, global_id: str, *, argument: str = "id"
) -> tuple[str, Any] | None:
    """``(type_name, row)``, or None when it does not exist or is not the viewer's.

    Both cases answer the same, so ids of other users' objects reveal nothing.
    ``argument`` names the argument a malformed id came in, for the error.
    """
    type_name, pk = from_global_id(global_id, argument=argument)
    loaders = ctx.loaders
    row: Any
    match type_name:
        case "Shop":
            row = await loaders.shop_by_id.load(pk)
        case "Product":
            row = await loaders.product_by_id.load(pk)
        case "User":
            row = await loaders.user_by_id.load(pk)
            row = row if row is not None and policy.is_self(ctx.viewer_id, row) else None
        case "Order":
            row = await loaders.order_by_id.load(pk)
            row = row if row is not None and await policy.can_see_order(ctx, row) else None
        case "OrderItem" | "OrderEvent" | "OrderReturn":
            loader = {
                "OrderItem": loaders.order_item_by_id,
                "OrderEvent": loaders.order_event_by_id,
                "OrderReturn": loaders.order_return_by_id,
            }[type_name]
            row = await loader.load(pk)
            order = None if row is None else await loaders.order_by_id.load(row.order_id)
            row = row if order is not None and await policy.can_see_order(ctx, order) else None
        case "Payment":
            row = await loaders.payment_by_id.load(pk)
            row = row if row is not None and await policy.can_see_payment(ctx, row) else None
        case "PaymentMethod":
            row = await loaders.payment_method_by_id.load(pk)
            visible = row is not None and policy.may_see_payment_method(ctx.viewer_id, row)
            row = row if visible else None
        case "TaggedItem":
            row = await loaders.tagged_item_by_id.load(pk)
            row = row if row is not None and policy.owns(ctx.viewer_id, row) else None
        case "Recommendation":
            row = await loaders.recommendation_by_id.load(pk)
            visible = row is not None and policy.may_see_recommendation(ctx.viewer_id, row)
            row = row if visible else None
        case _:  # pragma: no cover - from_global_id only returns known types
            row = None
    return None if row is None else (type_name, row)
