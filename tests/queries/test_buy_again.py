"""viewer.buyAgain: products the buyer paid for (orders not cancelled) that are still on
sale, most recently ordered first, with when and how often; keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from db.engine import SessionFactory
from db.models import Product, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient, token_for
from tests.factories import make_order, make_product, make_shop, make_user
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

T0 = datetime(2026, 10, 1, 12, tzinfo=UTC)
BUY_AGAIN = """query($first: Int, $after: String) {
  viewer { buyAgain(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { lastOrderedAt timesOrdered unitsOrdered product { id title } } } } } }"""


def pid(product: Product) -> str:
    assert product.id is not None
    return to_global_id("Product", product.id)


async def _page(gql: GraphQLClient, user: User, **variables: Any) -> dict[str, Any]:
    data = await gql.query(BUY_AGAIN, variables, user_id=user.id)
    page: dict[str, Any] = data["viewer"]["buyAgain"]
    return page


async def test_purchases_still_on_sale_most_recent_first(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    shop = await make_shop(sessions)
    soap, mug, lamp, kettle, scarf, sock = [
        await make_product(sessions, shop=shop, title=t)
        for t in ("Soap", "Mug", "Lamp", "Kettle", "Scarf", "Sock")
    ]

    async def order(products: list[Product], status: OrderStatus, days: int, qty: int = 1) -> None:
        await make_order(
            sessions,
            buyer=buyer,
            shop=shop,
            products=products,
            status=status,
            placed_at=T0 + timedelta(days=days),
            quantity=qty,
        )

    await order([soap], OrderStatus.COMPLETED, 0, qty=2)
    await order([soap, mug], OrderStatus.IN_TRANSIT, 5, qty=3)
    await order([mug], OrderStatus.AWAITING_SHIPMENT, 2)
    await order([lamp], OrderStatus.CANCELLED, 9)  # cancelled: not bought
    await order([kettle], OrderStatus.UNPAID, 10)  # unpaid: not bought
    await order([scarf], OrderStatus.DELIVERED, 7)  # bought, but now off sale
    await make_order(  # someone else's purchase
        sessions, buyer=other, shop=shop, products=[sock], status=OrderStatus.COMPLETED
    )
    async with sessions() as session:
        await session.execute(
            update(Product).where(col(Product.id) == scarf.id).values(on_sale=False)
        )
        await session.commit()

    page = await _page(gql, buyer, first=10)
    nodes = [edge["node"] for edge in page["edges"]]
    # Soap and mug were last ordered together (day 5): the larger product id first.
    assert [n["product"]["title"] for n in nodes] == ["Mug", "Soap"]
    assert nodes[1] == {
        "lastOrderedAt": (T0 + timedelta(days=5)).isoformat(),
        "timesOrdered": 2,
        "unitsOrdered": 5,
        "product": {"id": pid(soap), "title": "Soap"},
    }
    assert (nodes[0]["timesOrdered"], nodes[0]["unitsOrdered"]) == (2, 4)
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is False

    # The other buyer sees only their own purchase.
    theirs = await _page(gql, other)
    assert [e["node"]["product"]["title"] for e in theirs["edges"]] == ["Sock"]


async def test_pages_follow_each_other_without_gaps_or_repeats(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(7)]
    for day, product in enumerate(products):
        await make_order(
            sessions,
            buyer=buyer,
            shop=shop,
            products=[product],
            status=OrderStatus.COMPLETED,
            placed_at=T0 + timedelta(days=day),
        )
    seen: list[str] = []
    after = None
    while True:
        page = await _page(gql, buyer, first=3, after=after)
        seen += [e["node"]["product"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [pid(p) for p in reversed(products)]


async def test_a_cursor_of_another_list_is_refused(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.COMPLETED
    )
    orders = await gql.query(
        "{ viewer { orders(first: 1) { pageInfo { endCursor } } } }", user_id=buyer.id
    )
    cursor = orders["viewer"]["orders"]["pageInfo"]["endCursor"]
    error = await gql.error(BUY_AGAIN, {"first": 1, "after": cursor}, user_id=buyer.id)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_signed_out_callers_have_no_buy_again(gql: GraphQLClient) -> None:
    error = await gql.error(BUY_AGAIN, {"first": 1})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_the_statement_aggregates_only_the_viewers_lines(
    apps: Apps, engine: AsyncEngine, sessions: SessionFactory
) -> None:
    """SQLite makes a FROM subquery whole before it filters it by a column of the outer
    row: made for every buyer, the statement answering buyAgain aggregated everyone's
    purchases each time the page read them (1.4 s a request at 1,000 buyers x 50
    orders). Made for the viewer, it reads the viewer's orders by index."""
    buyer, other = await make_user(sessions), await make_user(sessions)
    shop = await make_shop(sessions)
    soap, sock = [await make_product(sessions, shop=shop, title=t) for t in ("Soap", "Sock")]
    await make_order(
        sessions, buyer=buyer, shop=shop, products=[soap], status=OrderStatus.COMPLETED
    )
    await make_order(
        sessions, buyer=other, shop=shop, products=[sock], status=OrderStatus.COMPLETED
    )
    assert buyer.id is not None
    planned = apps.app(make_settings())
    client = await apps.client(planned)
    body = {"query": BUY_AGAIN, "variables": {"first": 5}}
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    first = await client.post("/graphql", json=body, headers=headers)  # the generic executor
    page = first.json()["data"]["viewer"]["buyAgain"]
    assert [e["node"]["product"]["title"] for e in page["edges"]] == ["Soap"]
    planned_answer = await client.post("/graphql", json=body, headers=headers)  # the SQL plan
    assert planned_answer.content == first.content
    assert planned.state.plans.answered == 1
    plan = planned.state.plans.get(BUY_AGAIN, None)
    assert plan is not None
    sql_plan = plan.sql_plan("sqlite")
    assert sql_plan is not None
    statement = sql_plan.statement
    unbound = dict.fromkeys(statement.compile().params)
    async with engine.connect() as connection:
        steps = (await connection.execute(text(f"EXPLAIN QUERY PLAN {statement}"), unbound)).all()
    details = [step[-1] for step in steps]
    assert not [d for d in details if d.startswith("SCAN order_items")], details
    assert any(d.startswith("SEARCH orders USING INDEX") for d in details), details
