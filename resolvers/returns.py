"""Reading returns: what the viewer may do to an order's returns now."""

from __future__ import annotations

from db.models import Order
from domain import returns as domain
from domain.order_status import Actor, OrderAction, OrderStatus
from resolvers.context import Context
from resolvers.reviews import review_offers


async def order_actions(ctx: Context, order: Order, actors: frozenset[Actor]) -> list[OrderAction]:
    """domain.returns.order_actions for the order as it is now: its returns' statuses,
    whether the buyer may still ask for a return (window, units left), and what they
    may do about its reviews (resolvers.reviews.review_offers)."""
    loaders = ctx.loaders
    status = OrderStatus(order.status)
    reviewable, editable = await review_offers(ctx, order, actors)
    if status not in domain.RETURNABLE_ORDER_STATUSES:
        # Returns are asked for of these statuses only, and an order never leaves them.
        return domain.order_actions(
            status, actors, [], requestable=False, reviewable=reviewable, editable=editable
        )
    returns = await loaders.returns_by_order_id.load(order.id)
    requestable = False
    if actors & domain.REQUESTERS:
        shipment = await loaders.shipment_by_order_id.load(order.id)
        items = await loaders.items_by_order_id.load(order.id)
        ids = [r.id for r in returns]
        lines = await loaders.return_lines_by_return_id.load_many(ids) if ids else []
        status_of = {r.id: domain.ReturnStatus(r.status) for r in returns}
        left = domain.returnable_units(
            {item.id: item.quantity for item in items},
            [
                (line.order_item_id, line.quantity, status_of[line.return_id])
                for of_return in lines
                for line in of_return
            ],
        )
        requestable = domain.may_request(
            status,
            None if shipment is None else shipment.delivered_at,
            ctx.clock(),
            ctx.rules.return_window,
            left,
        )
    return domain.order_actions(
        status,
        actors,
        [domain.ReturnStatus(r.status) for r in returns],
        requestable,
        reviewable=reviewable,
        editable=editable,
    )
