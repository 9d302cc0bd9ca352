"""A small shop world with clear co-purchase structure, and reading back the rows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import Product, Recommendation, User
from tests.factories import BASE_TIME, make_order, make_product, make_shop, make_user

T = TypeVar("T")
NOW = BASE_TIME + timedelta(days=1)


@dataclass
class World:
    buyer: User
    newcomer: User
    home: list[Product]  # shop 1, category home: a, b, c
    books: list[Product]  # shop 2, category books: d, e
    sold_out: Product  # home, shop 1, stock 0


async def make_world(sessions: SessionFactory) -> World:
    """Others buy a with b, a with c, and d with e; the buyer has bought a."""
    home_shop = await make_shop(sessions)
    book_shop = await make_shop(sessions)
    home = [await make_product(sessions, shop=home_shop, category="home") for _ in range(3)]
    books = [await make_product(sessions, shop=book_shop, category="books") for _ in range(2)]
    sold_out = await make_product(sessions, shop=home_shop, category="home", stock=0)
    a, b, c = home
    d, e = books
    for basket, shop in (([a, b], home_shop), ([a, c], home_shop), ([d, e], book_shop)):
        for _ in range(2):
            other = await make_user(sessions)
            await make_order(sessions, buyer=other, shop=shop, products=basket)
    # Someone keeps buying the sold-out product with a: only stock keeps it out.
    fan = await make_user(sessions)
    await make_order(sessions, buyer=fan, shop=home_shop, products=[a, sold_out])
    buyer = await make_user(sessions)
    await make_order(sessions, buyer=buyer, shop=home_shop, products=[a])
    newcomer = await make_user(sessions)
    return World(buyer, newcomer, home, books, sold_out)


@dataclass(frozen=True)
class Row:
    id: int
    product_id: int
    score: float
    reason: str
    based_on_product_id: int | None
    dismissed: bool


async def rows_of(sessions: SessionFactory, user: User) -> list[Row]:
    """The user's rows, best first (dismissed ones included)."""
    statement = (
        select(Recommendation)
        .where(col(Recommendation.user_id) == user.id)
        .order_by(col(Recommendation.score).desc(), col(Recommendation.id))
    )
    async with sessions() as session:
        found = (await session.execute(statement)).scalars().all()
    return [
        Row(r.id or 0, r.product_id, r.score, r.reason, r.based_on_product_id, bool(r.dismissed))
        for r in found
    ]


def live(rows: list[Row]) -> list[Row]:
    return [r for r in rows if not r.dismissed]


def pk(row: Product | User) -> int:
    assert row.id is not None
    return row.id


async def eventually(check: Callable[[], Awaitable[T | None]], seconds: float = 10.0) -> T:
    """Polls until ``check`` returns something truthy; TimeoutError after ``seconds``."""
    async with asyncio.timeout(seconds):
        # Polling on purpose: the thing awaited is a row in the database, not an event.
        while not (result := await check()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return result
