"""viewer.buyAgain: products the buyer paid for (orders not cancelled) that are still on
sale, most recently ordered first, with when and how often; keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from db.engine import SessionFactory
from db.models import Product, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import make_order, make_product, make_shop, make_user

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
