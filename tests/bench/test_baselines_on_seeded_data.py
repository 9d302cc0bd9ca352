"""Every baseline answers what our API answers on seeded data: returns in every state
(inside and past their window), reviews, refunds and partial refunds, every tab.

The benchmark's ratios are fair only if this holds: a floor that offered fewer
``availableActions`` or counted fewer tabs would do less work than ours. Compared:
the page and order detail of bench/floor.py (statements assembled in Python), of the
stronger floor (one statement, bench/floor_sql.py) and of bench/naive.py; and the
stronger floor of every read operation in ``examples/`` (bench/floor_examples.py),
paged both ways, by tab and by search, for buyers, a seller and the operator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.queries import ORDER_CENTER_PAGE, ORDER_DETAIL
from db.seed import SeedSize, seed_database
from domain.order_status import OrderTab
from resolvers.ids import to_global_id
from tests.conftest import token_for
from tests.queries.test_sql_plans import _people
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
SIZE = SeedSize(users=10, orders_per_user=14, products_per_shop=6)


async def _seeded(engine: AsyncEngine) -> list[int]:
    """Seeds the database, then adds the edge cases of tests/queries (a buyer who sells
    some of what they bought, the amounts of every exponent, odd text); every user id,
    the operator's and the sellers' included."""
    await seed_database(engine, size=SIZE, rng_seed=11)
    await _people(engine)
    async with engine.connect() as conn:
        return [int(u) for (u,) in await conn.execute(text("SELECT id FROM users ORDER BY id"))]


class Ours:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def answer(self, query: str, variables: dict[str, Any], user: int) -> Any:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token_for(user)}"},
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


async def _ours(apps: Apps) -> Ours:
    # Hundreds of requests from one caller: no budget may refuse them.
    return Ours(await apps.client(make_settings(cost_budget_per_minute=10**9)))


async def _theirs(client: httpx.AsyncClient, path: str, body: Any, user: int) -> Any:
    response = await client.post(
        path, json=body, headers={"Authorization": f"Bearer {token_for(user)}"}
    )
    assert response.status_code == 200, response.text[:300]
    answer = orjson.loads(response.content)
    assert "errors" not in answer, answer
    return answer["data"]


def _same(ours: Any, theirs: Any, what: str) -> None:
    # Written out again by one serializer: equal only with equal values, types and key order.
    assert orjson.dumps(theirs) == orjson.dumps(ours), what


def _walk(value: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` anywhere in ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)


async def test_page_and_detail_of_every_baseline(
    apps: Apps,
    engine: AsyncEngine,
    floor: httpx.AsyncClient,
    naive: httpx.AsyncClient,
) -> None:
    users = await _seeded(engine)
    ours = await _ours(apps)
    seen: list[Any] = []
    async with engine.connect() as conn:
        numbers = {
            int(u): str(n)
            for u, n in await conn.execute(
                text("SELECT user_id, number FROM orders ORDER BY user_id, placed_at")
            )
        }
        orders = [
            (int(u), str(n))
            for u, n in await conn.execute(text("SELECT user_id, number FROM orders ORDER BY id"))
        ]
    for user in users:
        page = await ours.answer(ORDER_CENTER_PAGE, {"first": 20}, user)
        seen.append(page)
        _same(page, await _theirs(floor, "/sql/page", {"first": 20}, user), f"sql page {user}")
        _same(page, await _theirs(floor, "/page", {"first": 20}, user), f"floor page {user}")
        body = {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}
        _same(page, await _theirs(naive, "/graphql", body, user), f"naive page {user}")
    assert numbers
    for user, number in orders:
        detail = await ours.answer(ORDER_DETAIL, {"number": number}, user)
        seen.append(detail)
        for client, path, body in (
            (floor, "/sql/order", {"number": number}),
            (floor, "/order", {"number": number}),
            (naive, "/graphql", {"query": ORDER_DETAIL, "variables": {"number": number}}),
        ):
            _same(detail, await _theirs(client, path, body, user), f"{path} {number}")
    # What was compared has what makes the answers differ from a status table.
    actions = {a for listed in _walk(seen, "availableActions") for a in listed}
    # A buyer's own return steps, and a seller's actions on an order they bought themselves;
    # reviews to post, and reviews still in their edit window.
    assert {"REQUEST_RETURN", "CANCEL_RETURN", "SHIP_RETURN", "CONFIRM_RECEIPT", "SHIP"} <= actions
    assert {"REVIEW", "EDIT_REVIEW"} <= actions
    assert {"PARTIALLY_REFUNDED", "REFUNDED", "PAID"} <= set(_walk(seen, "paymentStatus"))
    counted = {t["tab"] for tabs in _walk(seen, "orderTabs") for t in tabs if t["count"]}
    assert {"TO_REVIEW", "RETURNS"} <= counted


def _document(name: str) -> str:
    return (EXAMPLES_DIR / f"{name}.graphql").read_text()


async def _compare(
    ours: Ours, floor: httpx.AsyncClient, name: str, variables: dict[str, Any], user: int
) -> Any:
    answer = await ours.answer(_document(name), variables, user)
    theirs = await _theirs(floor, f"/sql/example/{name}", variables, user)
    _same(answer, theirs, f"{name} {variables} for user {user}")
    return answer


async def _page_through(
    ours: Ours, floor: httpx.AsyncClient, name: str, field: str, extra: dict[str, Any], user: int
) -> int:
    """Forwards in pages of 3 to the end (then one page back for Orders); pages seen."""
    variables: dict[str, Any] = {**extra, "first": 3}
    pages = 0
    while True:
        answer = await _compare(ours, floor, name, variables, user)
        connection = answer["viewer"][field]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        variables = {**extra, "first": 3, "after": connection["pageInfo"]["endCursor"]}
    if name == "Orders" and "startCursor" in connection["pageInfo"]:
        start = connection["pageInfo"]["startCursor"]
        if start is not None:
            await _compare(ours, floor, name, {**extra, "last": 2, "before": start}, user)
            await _compare(ours, floor, name, {**extra, "last": 50, "before": start}, user)
        await _compare(ours, floor, name, {**extra, "last": 2}, user)
    return pages


async def test_every_example_read_operation_of_the_stronger_floor(
    apps: Apps, engine: AsyncEngine, floor: httpx.AsyncClient
) -> None:
    users = await _seeded(engine)
    ours = await _ours(apps)
    async with engine.connect() as conn:
        ids = [
            (int(u), int(pk))
            for u, pk in await conn.execute(text("SELECT user_id, id FROM orders ORDER BY id"))
        ]
        words = [
            str(w)
            for (w,) in await conn.execute(
                text(
                    "(SELECT split_part(title, ' ', 1) FROM order_items ORDER BY id LIMIT 2) "
                    "UNION ALL (SELECT name FROM shops ORDER BY id LIMIT 1) "
                    "UNION ALL (SELECT left(number, 6) FROM orders ORDER BY id LIMIT 1)"
                )
            )
        ]

    multi_page = 0
    for user in users:
        for name, field in (
            ("Tagged", "taggedItems"),
            ("RecentlyViewed", "recentlyViewed"),
            ("Payments", "payments"),
            ("Recommendations", "recommendations"),
            ("BuyAgain", "buyAgain"),
        ):
            await _compare(ours, floor, name, {}, user)  # the document's default page
            multi_page += await _page_through(ours, floor, name, field, {}, user) > 1
        await _compare(ours, floor, "Wallet", {}, user)
        for tab in [None, *OrderTab]:
            extra = {} if tab is None else {"tab": tab.value}
            multi_page += await _page_through(ours, floor, "Orders", "orders", extra, user) > 1
            if tab is not None:
                await _compare(ours, floor, "Home", {"tab": tab.value}, user)
                await _compare(ours, floor, "Home", {"tab": tab.value, "first": 2}, user)
        for word in [*words, "  ", "100%_\\"]:
            await _compare(ours, floor, "Orders", {"search": word, "first": 5}, user)
    assert multi_page > 10  # the paging compared was paging, not one page each
    after_delivery: list[Any] = []
    # Each order as its buyer, its shop's seller, the operator and a stranger see it, and
    # what happened after its delivery (returns, reviews).
    for owner, pk in ids:
        for user in {owner, users[0], users[1], users[-1]}:
            for name in ("OrderDetail", "OrderAfterDelivery"):
                variables = {"id": to_global_id("Order", pk)}
                after_delivery.append(await _compare(ours, floor, name, variables, user))
    # Returns in several states, with their lines, and reviewed lines were compared.
    assert len({r["status"] for listed in _walk(after_delivery, "returns") for r in listed}) >= 4
    assert any(r["lines"] for returns in _walk(after_delivery, "returns") for r in returns)
    assert any(review is not None for review in _walk(after_delivery, "review"))
