"""Who may see or act on what: the one place authorization is decided.

The rules are pure functions over rows: they do no I/O. Callers fetch the rows
their own way (the read side through the request's loaders, the mutations inside
their transaction) and ask here. The few async helpers at the bottom are the read
side's fetching, kept next to the rules they feed.

Whatever an outsider may not see answers exactly as a row that does not exist,
so ids of other people's objects reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from db.models import (
    Order,
    Payment,
    PaymentMethod,
    ProductView,
    Recommendation,
    Shop,
    TaggedItem,
    User,
)
from domain.order_status import Actor
from resolvers.context import Context
from resolvers.errors import NotAuthenticated

OPERATOR = "operator"

# --- Rules: pure, no I/O ------------------------------------------------------


def is_operator(viewer: User) -> bool:
    """Operators act as the seller of every shop."""
    return viewer.role == OPERATOR


def needs_shop(viewer: User | None) -> bool:
    """Whether ``order_roles`` for this viewer depends on the order's shop row."""
    return viewer is not None and not is_operator(viewer)


def _sells(viewer: User, order: Order, shop: Shop | None) -> bool:
    return shop is not None and shop.id == order.shop_id and shop.owner_id == viewer.id


def order_roles(viewer: User | None, order: Order, shop: Shop | None) -> frozenset[Actor]:
    """BUYER if the viewer placed the order; SELLER if they own its shop or are an operator.

    ``shop`` is the order's shop; it may be None when ``needs_shop(viewer)`` is false.
    """
    if viewer is None or viewer.id is None:
        return frozenset()
    roles: set[Actor] = set()
    if order.user_id == viewer.id:
        roles.add(Actor.BUYER)
    if is_operator(viewer) or _sells(viewer, order, shop):
        roles.add(Actor.SELLER)
    return frozenset(roles)


def may_see_order(viewer: User | None, order: Order, shop: Shop | None) -> bool:
    """Its buyer, its shop's seller and operators; also what hangs off it (items, events)."""
    return bool(order_roles(viewer, order, shop))


def may_see_payment(
    viewer: User | None, payment: Payment, order: Order | None, shop: Shop | None
) -> bool:
    """Whoever may see the order it pays for (``order`` is that order)."""
    return order is not None and payment.order_id == order.id and may_see_order(viewer, order, shop)


def is_self(viewer_id: int | None, user: User) -> bool:
    """A User node is visible only to that user."""
    return viewer_id is not None and user.id == viewer_id


def owns(
    viewer_id: int | None, row: PaymentMethod | TaggedItem | Recommendation | ProductView
) -> bool:
    return viewer_id is not None and row.user_id == viewer_id


# Columns whose values an owner's row must have to be shown: (column, None / True / False).
Shown = tuple[tuple[str, bool | None], ...]
# A saved card until it is removed; a recommendation until it is dismissed.
PAYMENT_METHOD_SHOWN: Shown = (("removed_at", None),)
RECOMMENDATION_SHOWN: Shown = (("dismissed", False),)


def shown(row: Any, when: Shown) -> bool:
    """Whether each column of ``when`` holds its value (SQL: ``column IS value``)."""
    return all(getattr(row, column) is value for column, value in when)


def may_see_payment_method(viewer_id: int | None, method: PaymentMethod) -> bool:
    """The owner's saved (not removed) card; also what may be charged, changed or removed."""
    return owns(viewer_id, method) and shown(method, PAYMENT_METHOD_SHOWN)


def may_see_recommendation(viewer_id: int | None, recommendation: Recommendation) -> bool:
    """The owner's, until they dismiss it."""
    return owns(viewer_id, recommendation) and shown(recommendation, RECOMMENDATION_SHOWN)


@dataclass(frozen=True)
class Sight:
    """Who may see a row of a type with a global id, as data: the read side's check
    (``may_see_node``, for ``node``/``nodes``) and the SQL plans' condition
    (schema/sql_nodes.py) are both made from it.

    ``who``: ``anyone``; ``self`` (the row is the viewer: ``is_self``); ``owner`` (its
    ``user_id`` is the viewer's: ``owns``, and it is ``shown``); ``order`` (whoever may
    see the order its ``order_column`` names: ``may_see_order``).
    """

    loader: str  # the Loaders attribute that reads a row by its primary key
    who: Literal["anyone", "self", "owner", "order"]
    shown: Shown = ()
    order_column: str = "order_id"


NODE_SIGHTS: dict[str, Sight] = {
    "Shop": Sight("shop_by_id", "anyone"),
    "Product": Sight("product_by_id", "anyone"),
    "User": Sight("user_by_id", "self"),
    "Order": Sight("order_by_id", "order", order_column="id"),
    "OrderItem": Sight("order_item_by_id", "order"),
    "OrderEvent": Sight("order_event_by_id", "order"),
    "OrderReturn": Sight("order_return_by_id", "order"),
    "Payment": Sight("payment_by_id", "order"),
    "PaymentMethod": Sight("payment_method_by_id", "owner", PAYMENT_METHOD_SHOWN),
    "TaggedItem": Sight("tagged_item_by_id", "owner"),
    "Recommendation": Sight("recommendation_by_id", "owner", RECOMMENDATION_SHOWN),
    # Public, as Product.reviews lists it (its fields name the reviewer by display name only).
    "Review": Sight("review_by_id", "anyone"),
}


def may_dismiss_recommendation(viewer_id: int | None, recommendation: Recommendation) -> bool:
    """The owner's; dismissing an already dismissed one again is a no-op, not an error."""
    return owns(viewer_id, recommendation)


# --- Read side: fetch through the request's loaders, then decide --------------


async def current_viewer(ctx: Context) -> User:
    """The signed-in user's row; NotAuthenticated without a valid token or user."""
    if ctx.viewer_id is None:
        raise NotAuthenticated(ctx.auth_problem or "missing")
    user: User | None = await ctx.loaders.user_by_id.load(ctx.viewer_id)
    if user is None:
        raise NotAuthenticated("invalid")  # signed, but it names nobody
    return user


async def _viewer_or_none(ctx: Context) -> User | None:
    if ctx.viewer_id is None:
        return None
    user: User | None = await ctx.loaders.user_by_id.load(ctx.viewer_id)
    return user


async def order_actors(ctx: Context, order: Order) -> frozenset[Actor]:
    """The roles the viewer holds on ``order``: its buyer, its shop's seller, or none."""
    viewer = await _viewer_or_none(ctx)
    shop = await ctx.loaders.shop_by_id.load(order.shop_id) if needs_shop(viewer) else None
    return order_roles(viewer, order, shop)


async def can_see_order(ctx: Context, order: Order) -> bool:
    return bool(await order_actors(ctx, order))


async def may_see_node(ctx: Context, sight: Sight, row: Any) -> bool:
    """Whether the viewer may see ``row``, a row of the type ``sight`` is about."""
    match sight.who:
        case "anyone":
            return True
        case "self":
            return is_self(ctx.viewer_id, row)
        case "owner":
            return owns(ctx.viewer_id, row) and shown(row, sight.shown)
        case "order":
            order = await ctx.loaders.order_by_id.load(getattr(row, sight.order_column))
            return order is not None and await can_see_order(ctx, order)


async def can_see_payment(ctx: Context, payment: Payment) -> bool:
    order = await ctx.loaders.order_by_id.load(payment.order_id)
    if order is None:
        return False
    viewer = await _viewer_or_none(ctx)
    shop = await ctx.loaders.shop_by_id.load(order.shop_id) if needs_shop(viewer) else None
    return may_see_payment(viewer, payment, order, shop)
