"""Fresh lists after the buyer acts: debounced, in the background, off the request path."""

from __future__ import annotations

import asyncio

from db.engine import SessionFactory
from resolvers.ids import to_global_id
from resolvers.recommendations.engine import Pick
from resolvers.recommendations.refresher import RecommendationRefresher
from tests.conftest import GraphQLClient
from tests.mutations.test_place_order import line, place
from tests.recommendations.helpers import Row, eventually, live, make_world, pk, rows_of

TAG = """
mutation($input: TagProductInput!) { tagProduct(input: $input) { userErrors { code } } }
"""
VIEW = """
mutation($input: RecordProductViewInput!) {
  recordProductView(input: $input) { userErrors { code } }
}
"""


async def test_placing_an_order_refreshes_recommendations_in_the_background(
    sessions: SessionFactory, gql: GraphQLClient, refresher: RecommendationRefresher
) -> None:
    world = await make_world(sessions)
    d, e = world.books
    # The newcomer starts cold: trending only.
    await refresher.refresh(pk(world.newcomer))
    before = live(await rows_of(sessions, world.newcomer))
    assert {r.reason for r in before} == {"TRENDING"}

    payload = await place(gql, world.newcomer, [line(d)])
    assert payload["userErrors"] == []

    async def refreshed() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        return rows if rows and rows[0].reason == "BOUGHT_TOGETHER" else None

    rows = await eventually(refreshed)
    assert rows[0].product_id == pk(e)
    assert rows[0].based_on_product_id == pk(d)
    assert pk(d) not in [r.product_id for r in rows]


async def test_tagging_and_viewing_refresh_recommendations(
    sessions: SessionFactory, gql: GraphQLClient
) -> None:
    world = await make_world(sessions)
    d, e = world.books
    a, b, _ = world.home
    result = await gql.query(
        TAG, {"input": {"productId": to_global_id("Product", pk(d))}}, user_id=world.newcomer.id
    )
    assert result["tagProduct"]["userErrors"] == []

    async def tagged() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        similar = [r for r in rows if r.reason == "SIMILAR_TO_TAGGED"]
        return similar or None

    assert (await eventually(tagged))[0].based_on_product_id == pk(d)

    result = await gql.query(
        VIEW, {"input": {"productId": to_global_id("Product", pk(a))}}, user_id=world.newcomer.id
    )
    assert result["recordProductView"]["userErrors"] == []

    async def viewed() -> list[Row] | None:
        rows = live(await rows_of(sessions, world.newcomer))
        similar = [r for r in rows if r.reason == "SIMILAR_TO_VIEWED"]
        return similar or None

    assert {r.based_on_product_id for r in await eventually(viewed)} == {pk(a)}
    assert pk(e) in [r.product_id for r in live(await rows_of(sessions, world.newcomer))]
    assert pk(b) in [r.product_id for r in live(await rows_of(sessions, world.newcomer))]


class CountingRefresher(RecommendationRefresher):
    def __init__(self, sessions: SessionFactory, **kwargs: float) -> None:
        super().__init__(sessions, **kwargs)
        self.calls: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def refresh(self, user_id: int) -> list[Pick]:
        self.calls.append(user_id)
        await self.gate.wait()
        return await super().refresh(user_id)


async def idle(refresher: RecommendationRefresher) -> None:
    async def done() -> bool:
        return refresher.pending == 0

    await eventually(done)


async def test_a_burst_of_requests_costs_one_refresh(sessions: SessionFactory) -> None:
    world = await make_world(sessions)
    refresher = CountingRefresher(sessions, debounce_seconds=0.2)
    try:
        for _ in range(5):
            refresher.request(pk(world.buyer))
        refresher.request(pk(world.newcomer))
        await asyncio.sleep(0.01)
        assert refresher.calls == []  # still within the debounce
        await idle(refresher)
        assert sorted(refresher.calls) == sorted([pk(world.buyer), pk(world.newcomer)])
        assert live(await rows_of(sessions, world.buyer))
    finally:
        await refresher.close()


async def test_a_request_during_a_refresh_runs_another_after_it(
    sessions: SessionFactory,
) -> None:
    world = await make_world(sessions)
    refresher = CountingRefresher(sessions, debounce_seconds=0.01)
    refresher.gate.clear()
    try:
        refresher.request(pk(world.buyer))

        async def started() -> bool:
            return len(refresher.calls) == 1

        await eventually(started)
        refresher.request(pk(world.buyer))
        await asyncio.sleep(0.05)
        assert len(refresher.calls) == 1  # not two at once for one user
        refresher.gate.set()
        await idle(refresher)
        assert refresher.calls == [pk(world.buyer)] * 2
    finally:
        await refresher.close()


async def test_the_model_is_rebuilt_only_when_old(sessions: SessionFactory) -> None:
    await make_world(sessions)
    keeps = RecommendationRefresher(sessions, model_max_age_seconds=600)
    assert await keeps.model() is await keeps.model()
    rebuilds = RecommendationRefresher(sessions, model_max_age_seconds=0)
    first = await rebuilds.model()
    await asyncio.sleep(0.01)
    assert await rebuilds.model() is not first


async def test_closing_drops_pending_refreshes(sessions: SessionFactory) -> None:
    world = await make_world(sessions)
    refresher = CountingRefresher(sessions, debounce_seconds=0.05)
    refresher.request(pk(world.buyer))
    await refresher.close()
    refresher.request(pk(world.buyer))
    await asyncio.sleep(0.1)
    assert refresher.calls == []
    assert refresher.pending == 0
    assert await rows_of(sessions, world.buyer) == []
