"""viewer.buyAgain: products from the buyer's purchases that are still on sale."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from db.models import Order, OrderItem, Product
from domain.buy_again import PURCHASED_STATUSES
from resolvers.context import Context
from resolvers.pagination import Page, PageArgs, paginate

BUY_AGAIN_LIST = "buyAgain"


async def buy_again_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[Any]:
    """Most recently ordered first (ties: the larger product id first). Each row has
    ``product_id``, ``last_ordered_at``, ``times_ordered`` (orders) and ``units_ordered``."""
    bought = (
        select(
            col(OrderItem.product_id).label("product_id"),
            sa.func.max(col(Order.placed_at)).label("last_ordered_at"),
            sa.func.count(sa.distinct(col(Order.id))).label("times_ordered"),
            sa.func.sum(col(OrderItem.quantity)).label("units_ordered"),
        )
        .join(Order, col(Order.id) == col(OrderItem.order_id))
        .join(Product, col(Product.id) == col(OrderItem.product_id))
        .where(
            col(Order.user_id) == user_id,
            col(Order.status).in_([s.value for s in PURCHASED_STATUSES]),
            col(Product.on_sale),
        )
        .group_by(col(OrderItem.product_id))
        .subquery("bought")
    )
    return await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        select(bought),
        list_name=BUY_AGAIN_LIST,
        key=bought.c.last_ordered_at,
        pk=bought.c.product_id,
        args=args,
        key_of=lambda r: r.last_ordered_at,
        pk_of=lambda r: r.product_id,
    )
