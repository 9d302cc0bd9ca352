"""Recomputing everyone through the database: rows, dismissals, determinism, the read API."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from db.engine import SessionFactory
from db.models import Product
from resolvers.ids import to_global_id
from resolvers.recommendations.batch import recompute_everyone
from tests.conftest import GraphQLClient
from tests.factories import make_recommendation
from tests.recommendations.helpers import NOW, live, make_world, pk, rows_of

RECOMMENDATIONS = """
{ viewer { recommendations(first: 20) { totalCount edges { node {
  id score reason product { id } basedOn { id }
} } } } }
"""
DISMISS = """
mutation($input: DismissRecommendationInput!) {
  dismissRecommendation(input: $input) { recommendation { id } userErrors { code } }
}
"""


async def test_recompute_writes_explained_rows_for_everyone(sessions: SessionFactory) -> None:
    world = await make_world(sessions)
    a, b, c = world.home
    report = await recompute_everyone(sessions, now=NOW)
    assert report.users > 0
    assert report.rows > 0

    rows = live(await rows_of(sessions, world.buyer))
    products = [r.product_id for r in rows]
    assert pk(a) not in products  # bought
    assert pk(world.sold_out) not in products  # out of stock, however often bought with a
    assert set(products[:2]) == {pk(b), pk(c)}
    for row in rows[:2]:
        assert row.reason == "BOUGHT_TOGETHER"
        assert row.based_on_product_id == pk(a)
    assert rows[0].score == 1.0
    assert all(0 < r.score <= 1 for r in rows)

    # Nobody's behaviour, still a list: what sells.
    cold = live(await rows_of(sessions, world.newcomer))
    assert cold
    assert {r.reason for r in cold} == {"TRENDING"}
    assert all(r.based_on_product_id is None for r in cold)


async def test_dismissed_rows_stay_and_their_products_never_come_back(
    sessions: SessionFactory,
) -> None:
    world = await make_world(sessions)
    b = world.home[1]
    dismissed = await make_recommendation(
        sessions, user=world.buyer, product=b, score=0.9, reason="BOUGHT_TOGETHER", dismissed=True
    )
    for _ in range(2):
        await recompute_everyone(sessions, now=NOW)
        rows = await rows_of(sessions, world.buyer)
        gone = [r for r in rows if r.product_id == pk(b)]
        assert [(r.id, r.dismissed) for r in gone] == [(dismissed.id, True)]
        assert pk(b) not in [r.product_id for r in live(rows)]


async def test_same_data_gives_the_same_rows_and_keeps_their_ids(
    sessions: SessionFactory,
) -> None:
    world = await make_world(sessions)
    await recompute_everyone(sessions, now=NOW)
    first = await rows_of(sessions, world.buyer)
    await recompute_everyone(sessions, now=NOW)
    second = await rows_of(sessions, world.buyer)
    assert first == second


async def test_rows_no_longer_recommended_are_removed(sessions: SessionFactory) -> None:
    world = await make_world(sessions)
    c = world.home[2]
    await recompute_everyone(sessions, now=NOW)
    assert pk(c) in [r.product_id for r in live(await rows_of(sessions, world.buyer))]
    async with sessions() as session:
        await session.execute(update(Product).where(col(Product.id) == pk(c)).values(on_sale=False))
        await session.commit()
    await recompute_everyone(sessions, now=NOW)
    assert pk(c) not in [r.product_id for r in await rows_of(sessions, world.buyer)]


async def test_the_read_api_serves_the_engine_output(
    sessions: SessionFactory, gql: GraphQLClient
) -> None:
    world = await make_world(sessions)
    a, b, _ = world.home
    await recompute_everyone(sessions, now=NOW)
    data = await gql.query(RECOMMENDATIONS, user_id=world.buyer.id)
    connection = data["viewer"]["recommendations"]
    nodes = [edge["node"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(live(await rows_of(sessions, world.buyer)))
    scores = [node["score"] for node in nodes]
    assert scores == sorted(scores, reverse=True)
    top = nodes[0]
    assert top["reason"] == "BOUGHT_TOGETHER"
    assert top["basedOn"] == {"id": to_global_id("Product", pk(a))}

    # Dismissed through the API: gone now, and after the next recompute too.
    target = next(n for n in nodes if n["product"]["id"] == to_global_id("Product", pk(b)))
    result = await gql.query(
        DISMISS, {"input": {"recommendationId": target["id"]}}, user_id=world.buyer.id
    )
    assert result["dismissRecommendation"]["userErrors"] == []
    await recompute_everyone(sessions, now=NOW)
    again = await gql.query(RECOMMENDATIONS, user_id=world.buyer.id)
    products = [e["node"]["product"]["id"] for e in again["viewer"]["recommendations"]["edges"]]
    assert to_global_id("Product", pk(b)) not in products
