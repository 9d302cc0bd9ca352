"""Taking something back refreshes the list too: untagging, clearing views, dismissing."""

from __future__ import annotations

from db.engine import SessionFactory
from db.models import Shop
from resolvers.ids import to_global_id
from resolvers.recommendations.batch import recompute_everyone
from tests.conftest import GraphQLClient
from tests.factories import make_order, make_product, make_user
from tests.recommendations.helpers import NOW, Row, eventually, live, make_world, pk, rows_of

TAG = """
mutation($input: TagProductInput!) { tagProduct(input: $input) { userErrors { code } } }
"""
UNTAG = """
mutation($input: UntagProductInput!) { untagProduct(input: $input) { userErrors { code } } }
"""
VIEW = """
mutation($input: RecordProductViewInput!) {
  recordProductView(input: $input) { userErrors { code } }
}
"""
CLEAR = "mutation { clearRecentlyViewed { clearedCount userErrors { code } } }"
DISMISS = """
mutation($input: DismissRecommendationInput!) {
  dismissRecommendation(input: $input) { userErrors { code } }
}
"""


def _reasons(rows: list[Row]) -> set[str]:
    return {r.reason for r in rows}


async def test_untagging_refreshes_recommendations(
    sessions: SessionFactory, gql: GraphQLClient
) -> None:
    world = await make_world(sessions)
    d = world.books[0]
    product = {"input": {"productId": to_global_id("Product", pk(d))}}
    result = await gql.query(TAG, product, user_id=world.newcomer.id)
    assert result["tagProduct"]["userErrors"] == []

    async def personal() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        return rows if "SIMILAR_TO_TAGGED" in _reasons(rows) else None

    await eventually(personal)

    result = await gql.query(UNTAG, product, user_id=world.newcomer.id)
    assert result["untagProduct"]["userErrors"] == []

    async def cold_again() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        return rows if rows and _reasons(rows) == {"TRENDING"} else None

    assert pk(d) in [r.product_id for r in await eventually(cold_again)]


async def test_clearing_recently_viewed_refreshes_recommendations(
    sessions: SessionFactory, gql: GraphQLClient
) -> None:
    world = await make_world(sessions)
    a = world.home[0]
    result = await gql.query(
        VIEW, {"input": {"productId": to_global_id("Product", pk(a))}}, user_id=world.newcomer.id
    )
    assert result["recordProductView"]["userErrors"] == []

    async def personal() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        return rows if "SIMILAR_TO_VIEWED" in _reasons(rows) else None

    await eventually(personal)

    result = await gql.query(CLEAR, user_id=world.newcomer.id)
    assert result["clearRecentlyViewed"] == {"clearedCount": 1, "userErrors": []}

    async def cold_again() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        return rows if rows and _reasons(rows) == {"TRENDING"} else None

    await eventually(cold_again)


async def test_dismissing_refreshes_recommendations_without_the_dismissed_product(
    sessions: SessionFactory, gql: GraphQLClient
) -> None:
    world = await make_world(sessions)
    a, b, _ = world.home
    await recompute_everyone(sessions, now=NOW)
    before = live(await rows_of(sessions, world.buyer))
    target = next(r for r in before if r.product_id == pk(b))

    # New behaviour nobody has acted on yet: only a recompute can show it.
    async with sessions() as session:
        shop = await session.get(Shop, a.shop_id)
    assert shop is not None
    fresh = await make_product(sessions, shop=shop, category="home")
    assert pk(fresh) not in [r.product_id for r in before]
    for _ in range(3):
        await make_order(sessions, buyer=await make_user(sessions), shop=shop, products=[a, fresh])

    result = await gql.query(
        DISMISS,
        {"input": {"recommendationId": to_global_id("Recommendation", target.id)}},
        user_id=world.buyer.id,
    )
    assert result["dismissRecommendation"]["userErrors"] == []

    async def refreshed() -> list[Row] | None:
        rows = await rows_of(sessions, world.buyer)
        shown = [r.product_id for r in live(rows)]
        return rows if pk(fresh) in shown else None

    rows = await eventually(refreshed)
    top = live(rows)[0]
    assert (top.product_id, top.reason, top.based_on_product_id) == (
        pk(fresh),
        "BOUGHT_TOGETHER",
        pk(a),
    )
    assert pk(b) not in [r.product_id for r in live(rows)]
    assert [(r.id, r.dismissed) for r in rows if r.product_id == pk(b)] == [(target.id, True)]
