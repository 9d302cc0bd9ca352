"""Behaviour out of the database, into the engine's arrays, in a few bulk queries."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Executable, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.engine import SessionFactory
from db.models import Order, OrderItem, Product, ProductView, Recommendation, TaggedItem, User
from resolvers.recommendations.engine import Behaviour, Events, FloatArray, IntArray, Products

# Rows held at once while reading behaviour. Everyone's behaviour read as driver rows
# (with a datetime each) in one go peaked ~30 MiB above the arrays made from it. Each
# partition is turned into arrays on the event loop: a small one keeps a full rebuild's
# read from holding up the buyers' own refreshes beside it for long.
_PARTITION = 2_000

Column = Callable[[list[Any]], npt.NDArray[Any]]


def _seconds(moments: Sequence[datetime]) -> FloatArray:
    return np.asarray([moment.timestamp() for moment in moments], dtype=np.float64)


def _ids(values: Sequence[int]) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _view_weights(counts: Sequence[int]) -> FloatArray:
    # Ten views say more than one, but not ten times more.
    return np.asarray([math.log1p(max(1, count)) for count in counts], dtype=np.float64)


def _columns(rows: Sequence[Any], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


async def _read(
    session: AsyncSession, statement: Executable, *columns: Column
) -> list[npt.NDArray[Any]]:
    """The statement's columns as arrays, each made by its ``columns`` function.

    Read ``_PARTITION`` rows at a time, so that only the arrays outlive the rows.
    """
    parts: list[list[npt.NDArray[Any]]] = [[] for _ in columns]
    result = await session.stream(statement.execution_options(yield_per=_PARTITION))
    async for rows in result.partitions():
        for part, make, values in zip(parts, columns, _columns(rows, len(columns)), strict=True):
            part.append(make(values))
        await asyncio.sleep(0)
    return [
        np.concatenate(part) if part else make([])
        for part, make in zip(parts, columns, strict=True)
    ]


async def load_products(session: AsyncSession) -> Products:
    rows = (
        await session.execute(
            select(
                col(Product.id),
                col(Product.shop_id),
                col(Product.category),
                col(Product.stock),
                col(Product.on_sale),
            )
        )
    ).all()
    ids, shops, categories, stock, on_sale = _columns(rows, 5)
    # Category names become codes; sorted, so the same catalog gives the same codes.
    names = sorted(set(categories))
    code = {name: i for i, name in enumerate(names)}
    available = [bool(sale) and int(left) > 0 for sale, left in zip(on_sale, stock, strict=True)]
    return Products.of(ids, shops, [code[c] for c in categories], available)


async def load_unavailable(session: AsyncSession) -> IntArray:
    """Products out of stock or off sale right now: few, so cheap to read on every refresh."""
    statement = select(col(Product.id)).where(
        or_(col(Product.stock) <= 0, col(Product.on_sale).is_(False))
    )
    return np.asarray((await session.execute(statement)).scalars().all(), dtype=np.int64)


async def load_behaviour(session: AsyncSession, user_id: int | None = None) -> Behaviour:
    """Everyone's behaviour, or one user's: purchases, tags, views and dismissals."""
    purchases = (
        select(
            col(Order.user_id),
            col(OrderItem.product_id),
            col(Order.placed_at),
            col(Order.id),
        )
        .join(Order, col(Order.id) == col(OrderItem.order_id))
        .order_by(col(OrderItem.id))
    )
    tags = select(
        col(TaggedItem.user_id), col(TaggedItem.product_id), col(TaggedItem.tagged_at)
    ).order_by(col(TaggedItem.id))
    views = select(
        col(ProductView.user_id),
        col(ProductView.product_id),
        col(ProductView.viewed_at),
        col(ProductView.view_count),
    ).order_by(col(ProductView.id))
    dismissed = (
        select(col(Recommendation.user_id), col(Recommendation.product_id))
        .where(col(Recommendation.dismissed).is_(True))
        .order_by(col(Recommendation.id))
    )
    if user_id is not None:
        purchases = purchases.where(col(Order.user_id) == user_id)
        tags = tags.where(col(TaggedItem.user_id) == user_id)
        views = views.where(col(ProductView.user_id) == user_id)
        dismissed = dismissed.where(col(Recommendation.user_id) == user_id)

    users, products, placed, orders = await _read(session, purchases, _ids, _ids, _seconds, _ids)
    bought = Events.of(users, products, at=placed, group=orders)
    users, products, tagged = await _read(session, tags, _ids, _ids, _seconds)
    tag_events = Events.of(users, products, at=tagged)
    users, products, viewed, weights = await _read(
        session, views, _ids, _ids, _seconds, _view_weights
    )
    view_events = Events.of(users, products, at=viewed, weight=weights)
    users, products = await _read(session, dismissed, _ids, _ids)
    return Behaviour(bought, tag_events, view_events, Events.of(users, products))


async def load_user_ids(session: AsyncSession) -> IntArray:
    statement = select(col(User.id)).order_by(col(User.id))
    return np.asarray((await session.execute(statement)).scalars().all(), dtype=np.int64)


async def load_everything(sessions: SessionFactory) -> tuple[Products, Behaviour, IntArray]:
    """The catalog, everyone's behaviour and every user id, read in one session."""
    async with sessions() as session:
        products = await load_products(session)
        behaviour = await load_behaviour(session)
        users = await load_user_ids(session)
    return products, behaviour, users
