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


def test_a_pending_session_leads_and_a_tag_counts_more_than_a_view() -> None:
    model = _model()
    # 3 and 4 (one shop) looked at within minutes: a video's products, not bought yet.
    picks = recommend(
        model,
        _user(viewed=[(3, 0.1), (4, 0.1005), (7, 10.0)], tagged=[(4, 0.1)]),
        NOW,
        CONFIG,
    )
    order = [p.product_id for p in picks]
    assert order[:2] == [4, 3]
    assert picks[0].reason is Reason.TAGGED
    assert picks[1].reason is Reason.VIEWED
    assert picks[0].based_on_product_id is None
    # Seen ten days ago: still a pick, below the session.
    assert order.index(7) > 1


def test_a_lone_view_is_not_a_session() -> None:
    model = _model()
    lone = recommend(model, _user(viewed=[(3, 0.1)]), NOW, CONFIG)
    together = recommend(model, _user(viewed=[(3, 0.1), (4, 0.1005)]), NOW, CONFIG)
    # A lone look is still a pick, below what is like the buyer's history; a product of
    # a video session leads.
    by_id = {p.product_id: p for p in lone}
    assert by_id[3].reason is Reason.VIEWED
    assert 0 < by_id[3].score < 1.0
    assert lone[0].product_id != 3
    assert [p.product_id for p in together[:2]] == [3, 4]
    assert together[0].reason is Reason.VIEWED


def test_ordering_one_product_of_a_session_spends_the_session() -> None:
    model = _model()
    viewed = [(3, 2.0), (4, 2.0005)]
    pending = recommend(model, _user(viewed=viewed), NOW, CONFIG)
    spent = recommend(model, _user(bought=[(3, 1.0)], viewed=viewed), NOW, CONFIG)
    assert [p.product_id for p in pending[:2]] == [3, 4]
    # After ordering 3, the session's other product is only a lone look now.
    assert 3 not in {p.product_id for p in spent}
    by_id = {p.product_id: p for p in spent}
    assert by_id[4].reason is Reason.VIEWED
    assert by_id[4].score < 1.0


def test_an_unavailable_session_product_hands_on_to_its_shelf() -> None:
    # One shop with two categories (1, 2 | 3, 4), another shop (5, 6); all bought alike.
    products = Products.of(
        ids=range(1, 7), shops=[1, 1, 1, 1, 2, 2], categories=[0, 0, 1, 1, 0, 0],
        available=[True] * 6,
    )  # fmt: skip
    crowd = Events.of(
        [u for u in range(10, 20) for _ in range(6)],
        list(range(1, 7)) * 10,
        at=[NOW - 100 * DAY] * 60,
        group=[u for u in range(10, 20) for _ in range(6)],
    )
    model = build_model(
        products, Behaviour(crowd, Events.empty(), Events.empty(), Events.empty()), NOW, CONFIG
    )
    user = _user(viewed=[(1, 0.1), (3, 0.1005)])
    shown = recommend(model, user, NOW, CONFIG)
    available = np.ones(len(products), dtype=np.bool_)
    available[products.index_of(np.asarray([1]))] = False
    gone = recommend(model, user, NOW, CONFIG, available)
    # While 1 can be shown, the session itself leads; once it cannot, its share goes to
    # its shelf: the same shop's product of its category (2) most, the other
    # category's (4) less, other shops' (5, 6) nothing.
    assert [p.product_id for p in shown[:2]] == [1, 3]
    shelf_while_shown = next(p.score for p in shown if p.product_id == 2)
    order = [p.product_id for p in gone]
    scores = {p.product_id: p.score for p in gone}
    assert 1 not in order
    assert order[:3] == [3, 2, 4]
    assert gone[1].reason is Reason.SIMILAR_TO_VIEWED
    assert gone[1].based_on_product_id in (1, 3)
    assert scores[2] > 2 * scores[4] > 10 * scores[5]
    assert scores[2] > 5 * shelf_while_shown


def test_what_was_bought_comes_back_only_when_looked_at_again_or_due() -> None:
    model = _model()
    # Viewed, then bought: the look is spent.
    spent = recommend(model, _user(bought=[(3, 1.0)], viewed=[(3, 2.0)]), NOW, CONFIG)
    assert 3 not in {p.product_id for p in spent}
    # Bought, then looked at again in a video session: wanted again.
    again = recommend(model, _user(bought=[(3, 5.0)], viewed=[(3, 0.5), (4, 0.5005)]), NOW, CONFIG)
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


def test_the_more_overdue_consumable_comes_first_whatever_its_categorys_rate() -> None:
    # Every buyer re-buys 5 (category 2); half of them re-buy 7 (category 3); both
    # every 30 days. Both are consumables, 5's category the more re-bought.
    users, products, at, group = [], [], [], []
    for user in range(10, 20):
        for product, times in ((1, 1), (3, 1), (5, 2), (7, 2 if user < 15 else 1)):
            for time in range(times):
                users.append(user)
                products.append(product)
                at.append(NOW - (200 - 30 * time) * DAY)
                group.append(len(group) + 1)
    crowd = Events.of(users, products, at=at, group=group)
    model = build_model(
        PRODUCTS, Behaviour(crowd, Events.empty(), Events.empty(), Events.empty()), NOW, CONFIG
    )
    assert model.repeat_rate[2] > model.repeat_rate[3] > 0
    picks = recommend(model, _user(bought=[(5, 20.0), (7, 40.0)]), NOW, CONFIG)
    assert [(p.product_id, p.reason) for p in picks[:2]] == [
        (7, Reason.BUY_AGAIN),
        (5, Reason.BUY_AGAIN),
    ]


def test_intent_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        EngineConfig(intent_half_life_days=0)
    with pytest.raises(ValueError, match="negative"):
        EngineConfig(again_weight=-1)
    assert np.isfinite(EngineConfig().intent_weight)
    with pytest.raises(ValueError, match="positive"):
        EngineConfig(session_gap_minutes=0)
    with pytest.raises(ValueError, match="negative"):
        EngineConfig(session_weight=-1)
