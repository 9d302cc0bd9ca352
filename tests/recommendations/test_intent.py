"""Intent and re-buys on small hand-made arrays: what was looked at lately, what is due."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from resolvers.recommendations.engine import (
    DAY,
    Behaviour,
    EngineConfig,
    Events,
    Model,
    Products,
    Reason,
    build_model,
    recommend,
    repeat_cycles,
)

NOW = 1_000 * DAY
CONFIG = EngineConfig(list_size=6, per_shop=6, per_category=6)
# Eight products in four categories, one shop each pair: (1, 2) (3, 4) (5, 6) (7, 8).
PRODUCTS = Products.of(
    ids=range(1, 9),
    shops=[1, 1, 2, 2, 3, 3, 4, 4],
    categories=[0, 0, 1, 1, 2, 2, 3, 3],
    available=[True] * 8,
)


def _crowd() -> Events:
    """Category 2 (products 5, 6) is re-bought every 30 days; the others once each."""
    users, products, at, group = [], [], [], []
    order = 0
    for user in range(10, 20):
        for product, times in ((1, 1), (3, 1), (5, 3), (7, 1)):
            for time in range(times):
                order += 1
                users.append(user)
                products.append(product)
                at.append(NOW - (200 - 30 * time) * DAY)
                group.append(order)
    return Events.of(users, products, at=at, group=group)


def _model() -> Model:
    everyone = Behaviour(_crowd(), Events.empty(), Events.empty(), Events.empty())
    return build_model(PRODUCTS, everyone, NOW, CONFIG)


def _user(
    bought: Sequence[tuple[int, float]] = (),
    tagged: Sequence[tuple[int, float]] = (),
    viewed: Sequence[tuple[int, float]] = (),
) -> Behaviour:
    """User 20's behaviour: (product, days ago) pairs; each purchase its own order."""

    def events(rows: Sequence[tuple[int, float]], group: bool = False) -> Events:
        return Events.of(
            [20] * len(rows),
            [p for p, _ in rows],
            at=[NOW - days * DAY for _, days in rows],
            group=list(range(1, len(rows) + 1)) if group else None,
        )

    return Behaviour(events(bought, True), events(tagged), events(viewed), Events.empty())


def test_repeat_cycles_learn_which_categories_are_re_bought_and_how_often() -> None:
    rate, days = repeat_cycles(PRODUCTS, _crowd(), 4)
    assert rate.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert days[2] == pytest.approx(30.0)


def test_a_fresh_view_leads_and_a_tag_counts_more_than_a_view() -> None:
    model = _model()
    picks = recommend(model, _user(viewed=[(3, 0.1), (7, 10.0)], tagged=[(1, 0.1)]), NOW, CONFIG)
    order = [p.product_id for p in picks]
    assert order[:2] == [1, 3]
    assert picks[0].reason is Reason.TAGGED
    assert picks[1].reason is Reason.VIEWED
    assert picks[0].based_on_product_id is None
    # Seen ten days ago: still a pick, below the fresh ones.
    assert order.index(7) > 1


def test_what_was_bought_comes_back_only_when_looked_at_again_or_due() -> None:
    model = _model()
    # Viewed, then bought: the look is spent.
    spent = recommend(model, _user(bought=[(3, 1.0)], viewed=[(3, 2.0)]), NOW, CONFIG)
    assert 3 not in {p.product_id for p in spent}
    # Bought, then viewed again: wanted again.
    again = recommend(model, _user(bought=[(3, 5.0)], viewed=[(3, 0.5)]), NOW, CONFIG)
    assert again[0].product_id == 3
    assert again[0].reason is Reason.VIEWED


def test_consumables_are_due_again_after_their_cycle_and_others_never() -> None:
    model = _model()
    due = recommend(model, _user(bought=[(5, 45.0), (1, 45.0)]), NOW, CONFIG)
    by_id = {p.product_id: p for p in due}
    assert by_id[5].reason is Reason.BUY_AGAIN
    assert by_id[5].based_on_product_id is None
    assert due[0].product_id == 5
    assert 1 not in by_id  # bought once by everyone: not a consumable
    fresh = recommend(model, _user(bought=[(5, 0.0)]), NOW, CONFIG)
    assert 5 not in {p.product_id for p in fresh}  # bought today: not due yet


def test_intent_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        EngineConfig(intent_half_life_days=0)
    with pytest.raises(ValueError, match="negative"):
        EngineConfig(again_weight=-1)
    assert np.isfinite(EngineConfig().intent_weight)
