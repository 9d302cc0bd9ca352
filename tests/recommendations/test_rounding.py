"""Scores are stored rounded: the API shows 0.953, not 0.9530000166190205."""

from __future__ import annotations

from db.engine import SessionFactory
from resolvers.recommendations.refresher import RecommendationRefresher
from resolvers.recommendations.store import SCORE_DECIMALS, stored_score
from tests.conftest import GraphQLClient
from tests.factories import make_view
from tests.recommendations.helpers import live, make_world, pk, rows_of

SCORES = "{ viewer { recommendations(first: 20) { edges { node { score product { id } } } } } }"


def test_stored_scores_are_rounded_but_never_zero() -> None:
    assert SCORE_DECIMALS == 4
    assert stored_score(0.9530000166190205) == 0.953
    assert stored_score(0.12345678) == 0.1235
    assert stored_score(1.0) == 1.0
    # A pick is still a pick: the smallest stored score is one unit of the last decimal.
    assert stored_score(3e-7) == 0.0001


async def test_rows_and_the_api_carry_rounded_scores(
    sessions: SessionFactory, gql: GraphQLClient, refresher: RecommendationRefresher
) -> None:
    world = await make_world(sessions)
    # A view beside the purchase: its log1p weight makes the score ratios uneven.
    await make_view(sessions, user=world.buyer, product=world.books[0])
    picks = await refresher.refresh(pk(world.buyer))
    raw = {pick.product_id: pick.score for pick in picks}
    # The engine's own scores are not round, or this test would prove nothing.
    assert any(score != round(score, SCORE_DECIMALS) for score in raw.values())

    rows = live(await rows_of(sessions, world.buyer))
    assert {r.product_id: r.score for r in rows} == {
        product: stored_score(score) for product, score in raw.items()
    }
    data = await gql.query(SCORES, user_id=world.buyer.id)
    shown = [edge["node"]["score"] for edge in data["viewer"]["recommendations"]["edges"]]
    assert shown
    assert shown == sorted(shown, reverse=True)
    assert all(score == round(score, SCORE_DECIMALS) for score in shown)
