"""Offline evaluation: hide each buyer's latest order, recommend from what came before.

Each buyer's latest order is held out; the model learns from everything else, except
that a buyer's own tags and views count only if they happened before that order
(views keep only their latest time, so a product viewed again afterwards is left
out entirely). Dismissals carry no time, so they play no part. Both the engine and
the baseline (the most-bought products of the training data) skip what the buyer
already ordered and what is unavailable today, so they draw on the same candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from resolvers.recommendations.engine import (
    DEFAULT_CONFIG,
    Behaviour,
    EngineConfig,
    Events,
    IntArray,
    Products,
    build_model,
    recommend,
)


@dataclass(frozen=True, slots=True)
class Split:
    train: Behaviour
    # Per evaluated buyer: the products of the held-out order, and when it was placed.
    held_out: dict[int, frozenset[int]]
    cutoff: dict[int, float]
    # Per evaluated buyer: the id of the held-out order.
    held_order: dict[int, int] = field(default_factory=dict)


def _before(events: Events, users: IntArray, cutoffs: np.ndarray) -> Events:
    """Events of buyers with a cutoff that happened before it; everyone else's stay."""
    if len(users) == 0:
        return events
    at = np.minimum(np.searchsorted(users, events.users), len(users) - 1)
    has_cutoff = users[at] == events.users
    return events.where(~has_cutoff | (events.at < cutoffs[at]))


def hold_out_latest(behaviour: Behaviour) -> Split:
    purchases = behaviour.purchases
    if len(purchases) == 0:
        return Split(Behaviour.empty(), {}, {})
    # Latest by placed_at, then by order id: two orders placed in the same second
    # still give one held-out order.
    order = np.lexsort((purchases.group, purchases.at, purchases.users))
    users_sorted = purchases.users[order]
    last = np.r_[users_sorted[1:] != users_sorted[:-1], True]
    users = users_sorted[last]
    latest_order = purchases.group[order][last]
    cutoffs = purchases.at[order][last]
    position = np.searchsorted(users, purchases.users)
    held = purchases.group == latest_order[position]
    train_purchases = purchases.where(~held & (purchases.at < cutoffs[position]))

    held_rows = purchases.where(held)
    held_out: dict[int, set[int]] = {}
    for user, product in zip(held_rows.users.tolist(), held_rows.products.tolist(), strict=True):
        held_out.setdefault(user, set()).add(product)
    train = Behaviour(
        purchases=train_purchases,
        tags=_before(behaviour.tags, users, cutoffs),
        views=_before(behaviour.views, users, cutoffs),
        dismissed=Events.empty(),
    )
    return Split(
        train=train,
        held_out={user: frozenset(items) for user, items in held_out.items()},
        cutoff=dict(zip(users.tolist(), cutoffs.tolist(), strict=True)),
        held_order=dict(zip(users.tolist(), latest_order.tolist(), strict=True)),
    )


@dataclass(frozen=True, slots=True)
class Scores:
    hit_rate: float  # share of buyers with any held-out product in the top k
    recall: float  # mean share of a buyer's held-out products in the top k


@dataclass(frozen=True, slots=True)
class Evaluation:
    buyers: int
    k: int
    engine: Scores
    popularity: Scores

    @property
    def lift(self) -> float:
        """Engine hit rate over the baseline's; infinite when the baseline hits nothing."""
        if self.popularity.hit_rate == 0:
            return float("inf") if self.engine.hit_rate > 0 else 1.0
        return self.engine.hit_rate / self.popularity.hit_rate

    def table(self) -> str:
        rows = [
            f"{'recommender':<12} {f'hit-rate@{self.k}':>12} {f'recall@{self.k}':>12}",
            f"{'engine':<12} {self.engine.hit_rate:>12.4f} {self.engine.recall:>12.4f}",
            f"{'popularity':<12} {self.popularity.hit_rate:>12.4f} {self.popularity.recall:>12.4f}",
        ]
        return "\n".join(rows)


def _most_bought(products: Products, purchases: Events) -> IntArray:
    """Available product ids by how many order lines bought them, ties by id."""
    cols, known = products.locate(purchases.products)
    counts = np.bincount(cols[known], minlength=len(products))
    candidates = np.flatnonzero(products.available)
    ranked = candidates[np.lexsort((products.ids[candidates], -counts[candidates]))]
    return products.ids[ranked]


def _top_excluding(ranked: list[int], excluded: set[int], k: int) -> set[int]:
    top: set[int] = set()
    for product_id in ranked:
        if len(top) == k:
            break
        if product_id not in excluded:
            top.add(product_id)
    return top


def evaluate(
    products: Products,
    behaviour: Behaviour,
    config: EngineConfig = DEFAULT_CONFIG,
    *,
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> Evaluation:
    config = replace(config, list_size=max(config.list_size, k))
    if phase is not None:
        phase("holding out each buyer's latest order")
    split = hold_out_latest(behaviour)
    buyers = np.asarray(sorted(split.held_out), dtype=np.int64)
    if len(buyers) == 0:
        return Evaluation(0, k, Scores(0.0, 0.0), Scores(0.0, 0.0))
    now = max(split.cutoff.values())
    if phase is not None:
        phase("building the item-item model from the rest")
    model = build_model(products, split.train, now, config)
    popular = _most_bought(products, split.train.purchases).tolist()
    if progress is not None:
        progress(0, len(buyers))
    engine_hits = baseline_hits = 0
    engine_recall = baseline_recall = 0.0
    for done, (user, history) in enumerate(split.train.by_user(buyers), start=1):
        held = split.held_out[user]
        picks = recommend(model, history, split.cutoff[user], config)[:k]
        engine_top = {pick.product_id for pick in picks}
        baseline_top = _top_excluding(popular, set(history.purchases.products.tolist()), k)
        engine_found = len(held & engine_top)
        baseline_found = len(held & baseline_top)
        engine_hits += engine_found > 0
        baseline_hits += baseline_found > 0
        engine_recall += engine_found / len(held)
        baseline_recall += baseline_found / len(held)
        if progress is not None:
            progress(done, len(buyers))
    n = len(buyers)
    return Evaluation(
        buyers=n,
        k=k,
        engine=Scores(engine_hits / n, engine_recall / n),
        popularity=Scores(baseline_hits / n, baseline_recall / n),
    )
