"""The incremental update (one buyer folded into the model) gives that buyer exactly the
list a full rebuild gives them: same products, reasons, bases and scores, bit for bit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from db.engine import SessionFactory
from db.models import TaggedItem
from db.seed import SeedSize, seed_database
from resolvers.recommendations.data import load_behaviour, load_everything
from resolvers.recommendations.engine import (
    DAY,
    DEFAULT_CONFIG,
    Behaviour,
    Events,
    Model,
    Products,
    build_model,
    recommend,
    with_buyer,
    with_buyers,
)
from resolvers.recommendations.refresher import SWAP_FOLD_LIMIT, RecommendationRefresher

NOW = 400 * DAY
CONFIG = replace(DEFAULT_CONFIG, neighbours=5)  # small k: pruning decides, so it is tested


def _world(rng: np.random.Generator) -> tuple[Products, Behaviour]:
    n = 40
    products = Products.of(
        ids=np.arange(1, n + 1),
        shops=rng.integers(1, 6, n),
        categories=rng.integers(0, 4, n),
        available=rng.random(n) < 0.9,
    )

    def events(count: int, group: bool = False) -> Events:
        return Events.of(
            rng.integers(1, 30, count),
            rng.integers(1, n + 1, count),
            at=NOW - rng.random(count) * 300 * DAY,
            weight=np.ones(count) if group else rng.random(count) + 0.5,
            group=rng.integers(1, 200, count) if group else None,
        )

    return products, Behaviour(events(300, True), events(80), events(150), Events.empty())


def _own(behaviour: Behaviour, user: int) -> Behaviour:
    return next(own for u, own in behaviour.by_user(np.asarray([user])) if u == user)


def _replace(behaviour: Behaviour, user: int, own: Behaviour) -> Behaviour:
    def kind(everyone: Events, mine: Events) -> Events:
        rest = everyone.where(everyone.users != user)
        return Events(
            *(np.concatenate([a, b]) for a, b in zip(_fields(rest), _fields(mine), strict=True))
        )

    return Behaviour(
        kind(behaviour.purchases, own.purchases),
        kind(behaviour.tags, own.tags),
        kind(behaviour.views, own.views),
        behaviour.dismissed,
    )


def _fields(e: Events) -> tuple[np.ndarray, ...]:
    return (e.users, e.products, e.at, e.weight, e.group)


def _changes(own: Behaviour, user: int) -> dict[str, Behaviour]:
    """What a buyer does between rebuilds: buys, tags, views, untags, or starts out."""
    fresh = NOW - 0.1 * DAY
    order = Events.of([user, user], [3, 17], at=[fresh, fresh], group=[999, 999])
    tag = Events.of([user], [21], at=[fresh])
    view = Events.of([user], [8], at=[fresh], weight=[np.log1p(2)])

    def plus(a: Events, b: Events) -> Events:
        return Events(
            *(np.concatenate([x, y]) for x, y in zip(_fields(a), _fields(b), strict=True))
        )

    return {
        "order": replace(own, purchases=plus(own.purchases, order)),
        "tag": replace(own, tags=plus(own.tags, tag)),
        "view": replace(own, views=plus(own.views, view)),
        "untag everything": replace(own, tags=Events.empty()),
        "forget everything": Behaviour.empty(),
    }


@pytest.mark.parametrize("seed", range(6))
def test_folding_one_buyer_in_equals_a_full_rebuild_for_that_buyer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    products, everyone = _world(rng)
    model = build_model(products, everyone, NOW, CONFIG)
    for user in (4, 29, 31):  # 31 never did anything before
        own = _own(everyone, user) if user < 30 else Behaviour.empty()
        for what, changed in _changes(own, user).items():
            after = _replace(everyone, user, changed)
            full = build_model(products, after, NOW, CONFIG)
            folded = with_buyer(model, user, changed, CONFIG)
            assert recommend(folded, changed, NOW, CONFIG) == recommend(
                full, changed, NOW, CONFIG
            ), (seed, user, what)
            # Everything but the other buyers' similarity rows is the full rebuild's.
            assert np.array_equal(folded.popularity, full.popularity)
            assert np.array_equal(folded.trending, full.trending)
            assert np.array_equal(folded.repeat_rate, full.repeat_rate)
            assert np.array_equal(folded.repeat_days, full.repeat_days)


def test_buyers_folded_one_after_another_each_match_the_rebuild_of_them_all() -> None:
    rng = np.random.default_rng(42)
    products, everyone = _world(rng)
    model = build_model(products, everyone, NOW, CONFIG)
    changed: dict[int, Behaviour] = {}
    for user in (2, 7, 11):
        changed[user] = _changes(_own(everyone, user), user)["order"]
        model = with_buyer(model, user, changed[user], CONFIG)
    after = everyone
    for user, own in changed.items():
        after = _replace(after, user, own)
    full = build_model(products, after, NOW, CONFIG)
    # The last one folded sees everyone's changes, as the rebuild does.
    assert recommend(model, changed[11], NOW, CONFIG) == recommend(full, changed[11], NOW, CONFIG)


NOW_DT = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_refresh_after_an_action_equals_a_full_rebuild_for_that_buyer(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    await seed_database(engine, size=SeedSize(users=30, orders_per_user=10), now=NOW_DT)
    refresher = RecommendationRefresher(sessions, clock=lambda: NOW_DT, scheduled_rebuilds=True)
    try:
        await refresher.rebuild()
        async with sessions() as session:
            tagged = set(
                (
                    await session.execute(
                        select(col(TaggedItem.product_id)).where(col(TaggedItem.user_id) == 5)
                    )
                ).scalars()
            )
            product = min(set(range(1, 100)) - tagged)
            session.add(TaggedItem(user_id=5, product_id=product, tagged_at=NOW_DT))
            await session.commit()
        picks = await refresher.refresh(5)
    finally:
        await refresher.close()
    products, behaviour, _ = await load_everything(sessions)
    full = build_model(products, behaviour, NOW_DT.timestamp(), DEFAULT_CONFIG)
    async with sessions() as session:
        own = await load_behaviour(session, 5)
    assert product in own.tags.products.tolist()
    expected = recommend(full, own, NOW_DT.timestamp(), DEFAULT_CONFIG)
    assert picks == expected


def test_buyers_folded_together_each_get_the_full_rebuilds_list() -> None:
    rng = np.random.default_rng(7)
    products, everyone = _world(rng)
    model = build_model(products, everyone, NOW, CONFIG)
    changed = {
        2: _changes(_own(everyone, 2), 2)["order"],
        7: _changes(_own(everyone, 7), 7)["tag"],
        31: _changes(Behaviour.empty(), 31)["view"],
    }
    folded = with_buyers(model, changed, CONFIG)
    after = everyone
    for user, own in changed.items():
        after = _replace(after, user, own)
    full = build_model(products, after, NOW, CONFIG)
    for user, own in changed.items():
        assert recommend(folded, own, NOW, CONFIG) == recommend(full, own, NOW, CONFIG), user


async def test_buyers_refreshed_during_a_rebuild_are_in_the_model_it_swaps_in(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    await seed_database(engine, size=SeedSize(users=30, orders_per_user=10), now=NOW_DT)
    refresher = RecommendationRefresher(sessions, clock=lambda: NOW_DT, scheduled_rebuilds=True)
    # More than are folded while refreshes wait: most are folded beside them.
    buyers = list(range(3, 3 + SWAP_FOLD_LIMIT + 3))
    build = refresher._build

    tagged: dict[int, int] = {}

    async def build_then_buyers_act() -> Model:
        model = await build()  # the rebuild's snapshot is read: what follows is not in it
        async with sessions() as session:
            for user in buyers:
                before = select(col(TaggedItem.product_id)).where(col(TaggedItem.user_id) == user)
                tagged[user] = min(
                    set(range(1, 100)) - set((await session.execute(before)).scalars())
                )
                session.add(TaggedItem(user_id=user, product_id=tagged[user], tagged_at=NOW_DT))
            await session.commit()
        await refresher.refresh_many(buyers)  # folded into the previous model
        return model

    try:
        await refresher.rebuild()
        refresher._build = build_then_buyers_act  # type: ignore[method-assign]
        swapped = await refresher.rebuild()
        assert await refresher.model() is swapped
    finally:
        await refresher.close()
    products, behaviour, _ = await load_everything(sessions)
    full = build_model(products, behaviour, NOW_DT.timestamp(), DEFAULT_CONFIG)
    for user in buyers:
        async with sessions() as session:
            own = await load_behaviour(session, user)
        assert tagged[user] in own.tags.products.tolist()
        now = NOW_DT.timestamp()
        assert recommend(swapped, own, now) == recommend(full, own, now), user


async def test_a_rebuild_in_a_process_of_its_own_equals_one_in_the_worker(
    engine: AsyncEngine, sessions: SessionFactory, database_url: str
) -> None:
    await seed_database(engine, size=SeedSize(users=30, orders_per_user=10), now=NOW_DT)
    apart = RecommendationRefresher(
        sessions, clock=lambda: NOW_DT, scheduled_rebuilds=True, rebuild_database_url=database_url
    )
    here = RecommendationRefresher(sessions, clock=lambda: NOW_DT, scheduled_rebuilds=True)
    try:
        # The first build, awaited by every refresh, runs in the worker; the next ones
        # in the child, which stays for the rebuild after (reading what changed since).
        await apart.rebuild()
        built_apart = await apart.rebuild()
        built_here = await here.rebuild()
        async with sessions() as session:
            own = await load_behaviour(session, 5)
            seen = {*own.purchases.products.tolist(), *own.tags.products.tolist()}
            product = min(set(range(1, 100)) - seen - set(own.views.products.tolist()))
            session.add(TaggedItem(user_id=5, product_id=product, tagged_at=NOW_DT))
            await session.commit()
        rebuilt_apart = await apart.rebuild()
        rebuilt_here = await here.rebuild()
    finally:
        await apart.close()
        await here.close()
    _, behaviour, users = await load_everything(sessions)
    now = NOW_DT.timestamp()
    for a, b in ((built_apart, built_here), (rebuilt_apart, rebuilt_here)):
        assert (a.co_behaviour != b.co_behaviour).nnz == 0
        assert (a.co_purchase != b.co_purchase).nnz == 0
        assert np.array_equal(a.trending, b.trending)
    assert rebuilt_apart.counts.engaged.nnz == built_apart.counts.engaged.nnz + 1
    for user, own in behaviour.by_user(users):
        assert recommend(rebuilt_apart, own, now) == recommend(rebuilt_here, own, now), user


async def test_the_servers_refresher_builds_even_its_first_model_apart(
    engine: AsyncEngine, sessions: SessionFactory, database_url: str
) -> None:
    """The server (app/main.py) builds every model in the child process: read in the
    server's own, everyone's behaviour held its event loop, and every request with it.
    A buyer's list comes out as the in-process build makes it."""
    await seed_database(engine, size=SeedSize(users=30, orders_per_user=10), now=NOW_DT)
    apart = RecommendationRefresher(
        sessions, clock=lambda: NOW_DT, rebuild_database_url=database_url, first_build_apart=True
    )
    here = RecommendationRefresher(sessions, clock=lambda: NOW_DT)
    try:
        from_apart = await apart.refresh(5)
        assert apart.builds_apart == 1
        from_here = await here.refresh(5)
        assert here.builds_apart == 0
    finally:
        await apart.close()
        await here.close()
    assert from_apart == from_here
    assert from_apart  # a buyer with history gets picks
