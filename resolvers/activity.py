"""A buyer's payments, payment methods, tags, views and recommendations."""

from __future__ import annotations

from sqlmodel import col, select

from db.models import Payment, PaymentMethod, ProductView, Recommendation, TaggedItem
from resolvers.context import Context
from resolvers.listings import Listing, listing_page
from resolvers.pagination import Page, PageArgs

PAYMENTS = Listing("payments", Payment, "created_at", "datetime")
TAGGED = Listing("taggedItems", TaggedItem, "tagged_at", "datetime")
VIEWED = Listing("recentlyViewed", ProductView, "viewed_at", "datetime")


def recommendation_is_shown(row: str) -> str:
    """Read-time truth, as SQL over a ``recommendations`` row aliased ``row``.

    A list is computed ahead of time; a product that sold out or went off sale since is
    hidden when the list is read, on every path: ``recommendations_page`` below and the
    SQL plan's ``recommendations`` rule (schema/sql_plans.py) both use this one text,
    through the listing's ``condition``.
    """
    # ``row`` is an alias the code picks, never input.
    product = "shown_product"
    return (
        f"{row}.dismissed IS FALSE AND EXISTS ("  # noqa: S608
        f"SELECT 1 FROM products {product} WHERE {product}.id = {row}.product_id "
        f"AND {product}.stock > 0 AND {product}.on_sale IS TRUE)"
    )


# Best first; dismissed ones never come back, sold-out or off-sale ones are hidden.
RECOMMENDATIONS = Listing(
    "recommendations", Recommendation, "score", "float", condition=recommendation_is_shown
)

# Saved methods: the default first, then newest; removed ones are kept for old payments.
PAYMENT_METHODS_SHOWN_WHEN: tuple[tuple[str, bool | None], ...] = (("removed_at", None),)
PAYMENT_METHODS_ORDER: tuple[str, ...] = ("is_default", "id")  # both descending


async def payment_methods(ctx: Context, *, user_id: int) -> list[PaymentMethod]:
    """Saved methods, default first, then newest."""
    statement = (
        select(PaymentMethod)
        .where(
            PaymentMethod.user_id == user_id,
            *(col(getattr(PaymentMethod, c)).is_(v) for c, v in PAYMENT_METHODS_SHOWN_WHEN),
        )
        .order_by(*(col(getattr(PaymentMethod, c)).desc() for c in PAYMENT_METHODS_ORDER))
    )

    async def fetch() -> list[PaymentMethod]:
        rows: list[PaymentMethod] = await ctx.loaders.reads.rows(statement)
        return rows

    rows = await ctx.loaders.deferred.run(fetch)
    for row in rows:
        ctx.loaders.payment_method_by_id.prime(row.id, row)
    return rows


async def payments_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[Payment]:
    page = await listing_page(ctx, PAYMENTS, owner_id=user_id, args=args)
    for row in page.rows:
        ctx.loaders.payment_by_id.prime(row.id, row)
    return page


async def tagged_items_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[TaggedItem]:
    return await listing_page(ctx, TAGGED, owner_id=user_id, args=args)


async def recently_viewed_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[ProductView]:
    return await listing_page(ctx, VIEWED, owner_id=user_id, args=args)


async def recommendations_page(
    ctx: Context, *, user_id: int, args: PageArgs
) -> Page[Recommendation]:
    """Best first; dismissed ones never come back."""
    return await listing_page(ctx, RECOMMENDATIONS, owner_id=user_id, args=args)
