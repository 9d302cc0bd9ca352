"""The engine on small hand-made arrays: scoring, reasons, exclusions, caps, cold start."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from scipy import sparse

from resolvers.recommendations.engine import (
    DAY,
    Behaviour,
    EngineConfig,
    Events,
    Pick,
    Products,
    Reason,
    build_model,
    cosine_neighbours,
    recommend,
)
from resolvers.recommendations.evaluate import hold_out_latest

NOW = 1_000 * DAY
CONFIG = EngineConfig(list_size=5, per_shop=5, per_category=5)

# Six products, two per shop and per category: (1, 2) (3, 4) (5, 6).
PRODUCTS = Products.of(
    ids=[1, 2, 3, 4, 5, 6],
    shops=[1, 1, 2, 2, 3, 3],
    categories=[0, 0, 1, 1, 2, 2],
    available=[True] * 6,
)


def purchases(rows: list[tuple[int, int]], at: float = NOW - DAY) -> Events:
    """(user, product) pairs, each its own order."""
    return Events.of(
        [u for u, _ in rows],
        [p for _, p in rows],
        at=[at] * len(rows),
        group=list(range(1, len(rows) + 1)),
    )


Pairs = Sequence[tuple[int, int]]


def behaviour(
    bought: Pairs = (), tagged: Pairs = (), viewed: Pairs = (), dismissed: Pairs = ()
) -> Behaviour:
    def events(rows: Pairs) -> Events:
        return Events.of([u for u, _ in rows], [p for _, p in rows], at=[NOW - DAY] * len(rows))

    return Behaviour(purchases(list(bought)), events(tagged), events(viewed), events(dismissed))


# Everyone else: 1 and 2 go together, as do 3 and 4, and 5 and 6.
CROWD = [(10, 1), (10, 2), (11, 1), (11, 2), (12, 3), (12, 4), (13, 5), (13, 6), (14, 5)]


def picks_for(user: Behaviour, config: EngineConfig = CONFIG) -> list[Pick]:
    model = build_model(PRODUCTS, behaviour(bought=CROWD), NOW, config)
    return recommend(model, user, NOW, config)


def by_product(picks: list[Pick]) -> dict[int, Pick]:
    return {p.product_id: p for p in picks}


# --- the model --------------------------------------------------------------------


def test_cosine_neighbours_are_symmetric_self_free_and_pruned() -> None:
    # Users x items: item 0 and 1 share two buyers, 0 and 2 share one.
    matrix = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]]))
    similarity = cosine_neighbours(matrix, k=5, shrinkage=0.0).toarray()
    expected_01 = 2 / np.sqrt(3 * 2)
    expected_02 = 1 / np.sqrt(3 * 2)
    assert similarity[0, 1] == pytest.approx(expected_01)
    assert similarity[0, 2] == pytest.approx(expected_02)
    assert np.allclose(similarity, similarity.T)
    assert np.all(np.diag(similarity) == 0)
    # Shrinkage damps pairs resting on few shared buyers more than on many.
    damped = cosine_neighbours(matrix, k=5, shrinkage=1.0).toarray()
    assert damped[0, 1] == pytest.approx(expected_01 * 2 / 3)
    assert damped[0, 2] == pytest.approx(expected_02 * 1 / 2)
    # Only each item's nearest neighbour survives k=1.
    pruned = cosine_neighbours(matrix, k=1, shrinkage=0.0).toarray()
    assert (pruned > 0).sum(axis=1).tolist() == [1, 1, 1]
    assert pruned[0].argmax() == 1


def test_cosine_neighbours_do_not_depend_on_the_block_size() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        users, items = int(rng.integers(1, 40)), int(rng.integers(1, 60))
        matrix = sparse.csr_matrix(rng.random((users, items)) < rng.random())
        k, shrinkage = int(rng.integers(1, 8)), float(rng.choice([0.0, 2.0]))
        whole = cosine_neighbours(matrix, k, shrinkage, block_entries=users * items * items)
        for block_entries in (1, 5, 100):
            blocks = cosine_neighbours(matrix, k, shrinkage, block_entries=block_entries)
            # Bit for bit, ties and their order included: the picks must not move.
            assert np.array_equal(blocks.indptr, whole.indptr)
            assert np.array_equal(blocks.indices, whole.indices)
            assert np.array_equal(blocks.data, whole.data)


def test_cosine_neighbours_do_not_hold_every_item_pair_at_once() -> None:
    # 1,000 items bought together by many users: about a million pairs before the
    # pruning, which all at once took ~90 MiB of temporaries here.
    rng = np.random.default_rng(1)
    matrix = sparse.csr_matrix(rng.random((200, 1_000)) < 0.2)
    tracemalloc.start()
    try:
        similarity = cosine_neighbours(matrix, k=100, shrinkage=2.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert similarity.nnz == 1_000 * 100
    assert peak < 40 * 2**20


def test_trending_counts_recent_purchases_only() -> None:
    days_ago = [1, 1, 1, 100, 100, 100, 100]
    bought = Events.of(
        users=[10, 11, 12, 13, 14, 15, 16],
        products=[5, 5, 6, 1, 1, 1, 1],
        at=[NOW - d * DAY for d in days_ago],
        group=range(1, 8),
    )
    everyone = Behaviour(bought, Events.empty(), Events.empty(), Events.empty())
    model = build_model(PRODUCTS, everyone, NOW, CONFIG)
    order = PRODUCTS.ids[np.argsort(-model.trending, kind="stable")].tolist()
    # 5 and 6 sold lately; 1 sold more, but long ago, so it only leads the rest.
    assert order[:3] == [5, 6, 1]
    assert np.all(model.trending > 0)
    assert model.trending.max() == pytest.approx(1.0)


# --- scoring and reasons ------------------------------------------------------------


def test_bought_together_names_the_product_it_is_based_on() -> None:
    picks = picks_for(behaviour(bought=[(20, 1)]))
    top = picks[0]
    assert top == Pick(2, 1.0, Reason.BOUGHT_TOGETHER, 1)
    assert all(0 < p.score <= 1 for p in picks)
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)


def test_tagged_and_viewed_products_lead_to_similar_ones() -> None:
    picks = by_product(picks_for(behaviour(tagged=[(20, 3)], viewed=[(20, 5)])))
    assert picks[4].reason is Reason.SIMILAR_TO_TAGGED
    assert picks[4].based_on_product_id == 3
    assert picks[6].reason is Reason.SIMILAR_TO_VIEWED
    assert picks[6].based_on_product_id == 5


def test_a_product_is_never_based_on_itself() -> None:
    # Viewing 3 and 4 recommends each for itself (still wanted), never "similar to itself".
    picks = by_product(picks_for(behaviour(viewed=[(20, 3), (20, 4)])))
    assert picks[3].reason is Reason.VIEWED
    assert picks[4].reason is Reason.VIEWED
    for pick in picks.values():
        assert pick.based_on_product_id != pick.product_id


def test_behaviour_weighs_more_when_recent() -> None:
    user = Behaviour(
        Events.of([20, 20], [1, 3], at=[NOW - 400 * DAY, NOW - DAY], group=[1, 2]),
        Events.empty(),
        Events.empty(),
        Events.empty(),
    )
    picks = picks_for(user)
    assert picks[0].product_id == 4  # like the recent purchase, not the old one


# --- exclusions -----------------------------------------------------------------


def test_never_bought_dismissed_or_unavailable_products() -> None:
    products = replace(PRODUCTS, available=np.array([True, True, True, True, True, False]))
    user = behaviour(bought=[(20, 1)], dismissed=[(20, 2)], viewed=[(20, 5)])
    everyone = behaviour(bought=CROWD)
    model = build_model(products, everyone, NOW, CONFIG)
    picks = recommend(model, user, NOW, CONFIG)
    assert {p.product_id for p in picks}.isdisjoint({1, 2, 6})
    # Availability passed in wins over the model's: stock changes between rebuilds.
    now_available = products.availability(np.array([3, 4]))
    later = recommend(model, user, NOW, CONFIG, available=now_available)
    assert {p.product_id for p in later} <= {5, 6}


def test_unknown_products_in_behaviour_are_ignored() -> None:
    picks = picks_for(behaviour(bought=[(20, 1), (20, 999)], viewed=[(20, 998)]))
    assert picks[0].product_id == 2


# --- cold start and filling -----------------------------------------------------


def test_a_user_without_behaviour_gets_trending() -> None:
    picks = picks_for(Behaviour.empty())
    assert len(picks) == CONFIG.list_size
    assert {p.reason for p in picks} == {Reason.TRENDING}
    assert all(p.based_on_product_id is None for p in picks)
    assert picks[0].score == pytest.approx(1.0)
    assert all(0 < p.score <= 1 for p in picks)


def test_trending_fills_the_list_below_every_personal_pick() -> None:
    config = replace(CONFIG, list_size=6, category_prior=0.0)
    picks = picks_for(behaviour(bought=[(20, 1)]), config)
    personal = [p for p in picks if p.reason is not Reason.TRENDING]
    trending = [p for p in picks if p.reason is Reason.TRENDING]
    assert personal
    assert trending
    assert min(p.score for p in personal) > max(p.score for p in trending) > 0
    assert picks == sorted(picks, key=lambda p: -p.score)


# --- diversity --------------------------------------------------------------------


def test_caps_per_shop_and_per_category() -> None:
    # Twelve products: shops 1-3, categories 0-1, all liked by the same crowd.
    ids = list(range(1, 13))
    products = Products.of(
        ids=ids,
        shops=[1 + i % 3 for i in range(12)],
        categories=[i % 2 for i in range(12)],
        available=[True] * 12,
    )
    crowd = purchases([(u, p) for u in range(10, 20) for p in ids])
    config = EngineConfig(list_size=12, per_shop=3, per_category=4)
    model = build_model(products, Behaviour(crowd, *[Events.empty()] * 3), NOW, config)
    picks = recommend(model, behaviour(bought=[(20, 1)]), NOW, config)
    shops = [int(products.shops[p.product_id - 1]) for p in picks]
    categories = [int(products.categories[p.product_id - 1]) for p in picks]
    assert max(shops.count(s) for s in set(shops)) <= 3
    assert max(categories.count(c) for c in set(categories)) <= 4
    # Two categories x four: the caps, not the catalog, end the list.
    assert len(picks) == 8


# --- determinism ----------------------------------------------------------------


def test_same_data_gives_the_same_picks() -> None:
    user = behaviour(bought=[(20, 1)], tagged=[(20, 3)], viewed=[(20, 5)])
    first = picks_for(user)
    second = picks_for(user)
    assert first == second


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EngineConfig(list_size=0)
    with pytest.raises(ValueError, match="positive"):
        EngineConfig(trending_days=0)


# --- the evaluation split -------------------------------------------------------


def test_holding_out_leaves_nothing_from_after_the_held_out_order() -> None:
    bought = Events.of(
        [20, 20, 20, 21],
        [1, 2, 3, 4],
        at=[1 * DAY, 2 * DAY, 2 * DAY, 5 * DAY],
        group=[100, 101, 101, 102],
    )
    tags = Events.of([20, 20, 21], [5, 6, 6], at=[1.5 * DAY, 3 * DAY, 9 * DAY])
    views = Events.of([20, 20], [4, 5], at=[0.5 * DAY, 2.5 * DAY])
    split = hold_out_latest(Behaviour(bought, tags, views, Events.of([20], [6])))
    assert split.held_out == {20: frozenset({2, 3}), 21: frozenset({4})}
    assert split.cutoff == {20: 2 * DAY, 21: 5 * DAY}
    assert split.train.purchases.products.tolist() == [1]
    # Tags and views of a buyer count only from before the held-out order.
    assert split.train.tags.users.tolist() == [20]
    assert split.train.tags.products.tolist() == [5]
    assert split.train.views.products.tolist() == [4]
    assert len(split.train.dismissed) == 0
