"""A buyer's payments, payment methods, tags, views and recommendations."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import col, select

from db.models import Payment, PaymentMethod, ProductView, Recommendation, TaggedItem
from resolvers.context import Context
from resolvers.pagination import Page, PageArgs, paginate

PAYMENTS_LIST = "payments"
TAGGED_LIST = "taggedItems"
VIEWED_LIST = "recentlyViewed"
RECOMMENDATIONS_LIST = "recommendations"


def recommendation_is_shown(row: str) -> str:
    """Read-time truth, as SQL over a ``recommendations`` row aliased ``row``.

    A list is computed ahead of time; a product that sold out or went off sale since is
    hidden when the list is read, on every path: ``recommendations_page`` below and the
    SQL plan's ``recommendations`` rule (schema/sql_plans.py) both use this one text.
    """
    # ``row`` is an alias the code picks, never input.
    product = "shown_product"
    return (
        f"{row}.dismissed IS FALSE AND EXISTS ("  # noqa: S608
        f"SELECT 1 FROM products {product} WHERE {product}.id = {row}.product_id "
        f"AND {product}.stock > 0 AND {product}.on_sale IS TRUE)"
    )


async def payment_methods(ctx: Context, *, user_id: int) -> list[PaymentMethod]:
    """Saved methods, default first, then newest."""
    statement = (
        select(PaymentMethod)
        .where(PaymentMethod.user_id == user_id, col(PaymentMethod.removed_at).is_(None))
        .order_by(col(PaymentMethod.is_default).desc(), col(PaymentMethod.id).desc())
    )

    async def fetch() -> list[PaymentMethod]:
        rows: list[PaymentMethod] = await ctx.loaders.reads.rows(statement)
        return rows

    rows = await ctx.loaders.deferred.run(fetch)
    for row in rows:
        ctx.loaders.payment_method_by_id.prime(row.id, row)
    return rows


async def payments_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[Payment]:
    page = await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        select(Payment).where(Payment.user_id == user_id),
        list_name=PAYMENTS_LIST,
        key=col(Payment.created_at),
        pk=col(Payment.id),
        args=args,
        key_of=lambda p: p.created_at,
        pk_of=lambda p: p.id,
    )
    for row in page.rows:
        ctx.loaders.payment_by_id.prime(row.id, row)
    return page


async def tagged_items_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[TaggedItem]:
    return await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        select(TaggedItem).where(TaggedItem.user_id == user_id),
        list_name=TAGGED_LIST,
        key=col(TaggedItem.tagged_at),
        pk=col(TaggedItem.id),
        args=args,
        key_of=lambda t: t.tagged_at,
        pk_of=lambda t: t.id,
    )


async def recently_viewed_page(ctx: Context, *, user_id: int, args: PageArgs) -> Page[ProductView]:
    return await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        select(ProductView).where(ProductView.user_id == user_id),
        list_name=VIEWED_LIST,
        key=col(ProductView.viewed_at),
        pk=col(ProductView.id),
        args=args,
        key_of=lambda v: v.viewed_at,
        pk_of=lambda v: v.id,
    )


async def recommendations_page(
    ctx: Context, *, user_id: int, args: PageArgs
) -> Page[Recommendation]:
    """Best first; dismissed ones never come back, sold-out or off-sale ones are hidden."""
    return await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        select(Recommendation).where(
            Recommendation.user_id == user_id,
            text(recommendation_is_shown("recommendations")),
        ),
        list_name=RECOMMENDATIONS_LIST,
        key=col(Recommendation.score),
        pk=col(Recommendation.id),
        args=args,
        key_of=lambda r: r.score,
        pk_of=lambda r: r.id,
    )
