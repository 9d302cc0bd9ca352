"""Who may see what. Every read of a private object goes through here."""

from __future__ import annotations

from db.models import Order, Payment, PaymentMethod, Recommendation, TaggedItem, User
from domain.order_status import Actor
from resolvers.context import Context
from resolvers.errors import NotAuthenticated

OPERATOR = "operator"


async def current_viewer(ctx: Context) -> User:
    """The signed-in user's row; NotAuthenticated without a valid token or user."""
    if ctx.viewer_id is None:
        raise NotAuthenticated
    user: User | None = await ctx.loaders.user_by_id.load(ctx.viewer_id)
    if user is None:
        raise NotAuthenticated
    return user


async def _viewer_or_none(ctx: Context) -> User | None:
    if ctx.viewer_id is None:
        return None
    user: User | None = await ctx.loaders.user_by_id.load(ctx.viewer_id)
    return user


async def order_actors(ctx: Context, order: Order) -> frozenset[Actor]:
    """The roles the viewer holds on ``order``: its buyer, its shop's seller, or none."""
    viewer = await _viewer_or_none(ctx)
    if viewer is None:
        return frozenset()
    actors: set[Actor] = set()
    if order.user_id == viewer.id:
        actors.add(Actor.BUYER)
    if viewer.role == OPERATOR:
        actors.add(Actor.SELLER)
    else:
        shop = await ctx.loaders.shop_by_id.load(order.shop_id)
        if shop is not None and shop.owner_id == viewer.id:
            actors.add(Actor.SELLER)
    return frozenset(actors)


async def can_see_order(ctx: Context, order: Order) -> bool:
    return bool(await order_actors(ctx, order))


async def can_see_payment(ctx: Context, payment: Payment) -> bool:
    order = await ctx.loaders.order_by_id.load(payment.order_id)
    return order is not None and await can_see_order(ctx, order)


def owns(ctx: Context, row: PaymentMethod | TaggedItem | Recommendation) -> bool:
    return ctx.viewer_id is not None and row.user_id == ctx.viewer_id


def is_viewer(ctx: Context, user: User) -> bool:
    return ctx.viewer_id is not None and user.id == ctx.viewer_id
