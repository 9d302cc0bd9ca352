"""viewer.buyAgain: products from the buyer's purchases that are still on sale."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from db.models import Order, OrderItem, Product
from domain.buy_again import PURCHASED_STATUSES
from resolvers.context import Context
from resolvers.listings import Listing, listing_page
from resolvers.pagination import Page, PageArgs

BUY_AGAIN_LIST = "buyAgain"


def bought() -> Any:
    """One row per (buyer, product) of the purchases whose product is still on sale: its
    ``product_id`` (also the row's ``id``), ``last_ordered_at``, ``times_ordered``
    (orders) and ``units_ordered``."""
    return (
        sa.select(
            col(Order.user_id).label("user_id"),
            col(OrderItem.product_id).label("id"),
            col(OrderItem.product_id).label("product_id"),
            sa.func.max(col(Order.placed_at)).label("last_ordered_at"),
            sa.func.count(sa.distinct(col(Order.id))).label("times_ordered"),
            sa.func.sum(col(OrderItem.quantity)).label("units_ordered"),
        )
        .select_from(OrderItem)
        .join(Order, col(Order.id) == col(OrderItem.order_id))
        .join(Product, col(Product.id) == col(OrderItem.product_id))
        .where(
            col(Order.status).in_([s.value for s in PURCHASED_STATUSES]),
            col(Product.on_sale),
        )
        .group_by(col(Order.user_id), col(OrderItem.product_id))
    )


# Most recently ordered first (ties: the larger product id first).
BUY_AGAIN = Listing(BUY_AGAIN_LIST, OrderItem, "last_ordered_at", "datetime", rows=bought)


async def buy_again_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[Any]:
    """A page of the buyer's ``bought`` rows."""
    return await listing_page(ctx, BUY_AGAIN, owner_id=user_id, args=args)
