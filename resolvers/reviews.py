"""Reading reviews: a product's list, its rating, and the TO_REVIEW order list.

The TO_REVIEW membership rule is domain.reviews.awaits_review; ``awaits_review_sql``
below is that rule as SQL over an ``orders`` row, generated from the same constants, and
is the one text every path uses: the orders filter and tab counts here
(resolvers/orders.py) and the SQL plans (schema/sql_plans.py), where it is also the
fact availableActions offers REVIEW on (to a reviewer).
"""

from __future__ import annotations

from db.models import Order, OrderItem, Review
from domain import reviews as rules
from domain.order_status import Actor, OrderStatus
from resolvers.context import Context
from resolvers.listings import Listing, listing_page
from resolvers.pagination import Page, PageArgs

# A product's reviews, newest posted first (an edit does not move a review).
REVIEWS = Listing("reviews", Review, "posted_at", "datetime", owner="product_id")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def awaits_review_sql(row: str) -> str:
    """domain.reviews.awaits_review as SQL over the ``orders`` row aliased ``row``: a
    reviewable status, and a line with no review."""
    statuses = ", ".join(_literal(s.value) for s in sorted(rules.REVIEWABLE_STATUSES))
    item, review = f"{row}_unreviewed", f"{row}_review"  # aliases the code picks, never input
    return (
        f"{row}.status IN ({statuses}) AND EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {OrderItem.__tablename__} {item} WHERE {item}.order_id = {row}.id "
        f"AND NOT EXISTS (SELECT 1 FROM {Review.__tablename__} {review} "
        f"WHERE {review}.order_item_id = {item}.id))"
    )


async def reviews_page(ctx: Context, *, product_id: int, args: PageArgs) -> Page[Review]:
    return await listing_page(ctx, REVIEWS, owner_id=product_id, args=args)


async def review_offers(ctx: Context, order: Order, roles: frozenset[Actor]) -> tuple[bool, bool]:
    """(REVIEW, EDIT_REVIEW) of the order's availableActions for a viewer holding
    ``roles``: domain.reviews.offers_review and offers_edit over its lines' reviews. Read
    only for its buyer (neither is offered to anyone else); batched across orders."""
    if not roles & rules.REVIEWERS or order.id is None or ctx.viewer_id is None:
        return False, False
    loaders = ctx.loaders
    items = await loaders.items_by_order_id.load(order.id)
    ids = [item.id for item in items if item.id is not None]
    found = await loaders.review_by_order_item_id.load_many(ids) if ids else []
    reviews = [review for review in found if review is not None]
    reviewable = rules.offers_review(OrderStatus(order.status), roles, len(ids) - len(reviews))
    editable = rules.offers_edit(
        roles,
        ctx.viewer_id,
        [(review.user_id, review.posted_at) for review in reviews],
        ctx.clock(),
        ctx.rules.review_edit_window,
    )
    return reviewable, editable
