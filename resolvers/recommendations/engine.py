"""Scoring recommendations from behaviour: pure functions over numpy arrays and scipy matrices.

No I/O happens here: ``data`` loads behaviour into these arrays and ``store`` writes
the picks, so every rule below can be tested on small hand-made inputs.

The model is item-to-item: cosine similarity between the columns of a sparse
user x item matrix (who bought it; who bought, tagged or viewed it), pruned to each
item's nearest neighbours, plus a same-category prior, plus how often each category
is re-bought. A buyer's candidates are scored by recent intent (viewed or tagged and
not bought), by being due again, and by how similar they are to what the buyer
bought, tagged and viewed; the strongest contribution names the reason and, for
similarity, the product it is based on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

# Re-exported: the tunables live apart so that the server can hold a config without
# importing numpy and scipy (see ``config``).
from resolvers.recommendations.config import DEFAULT_CONFIG as DEFAULT_CONFIG
from resolvers.recommendations.config import EngineConfig as EngineConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAY = 86_400.0


class Reason(StrEnum):
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    SIMILAR_TO_TAGGED = "SIMILAR_TO_TAGGED"
    SIMILAR_TO_VIEWED = "SIMILAR_TO_VIEWED"
    TRENDING = "TRENDING"
    # The product itself: tagged or viewed lately and not bought yet, or due again.
    TAGGED = "TAGGED"
    VIEWED = "VIEWED"
    BUY_AGAIN = "BUY_AGAIN"


def _ints(values: Any) -> IntArray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _floats(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


@dataclass(frozen=True, slots=True)
class Events:
    """One kind of behaviour, a row per event: who, which product, when, how much.

    ``group`` is the order id of a purchase (0 for other kinds); ``weight`` is 1 per
    order line and tag, and log1p(view count) for a view.
    """

    users: IntArray
    products: IntArray
    at: FloatArray
    weight: FloatArray
    group: IntArray

    @classmethod
    def of(
        cls,
        users: Any,
        products: Any,
        at: Any = None,
        weight: Any = None,
        group: Any = None,
    ) -> Events:
        u, p = _ints(users), _ints(products)
        n = len(u)
        if len(p) != n:
            raise ValueError("users and products differ in length")
        return cls(
            users=u,
            products=p,
            at=np.zeros(n) if at is None else _floats(at),
            weight=np.ones(n) if weight is None else _floats(weight),
            group=np.zeros(n, dtype=np.int64) if group is None else _ints(group),
        )

    @classmethod
    def empty(cls) -> Events:
        return cls.of([], [])

    def __len__(self) -> int:
        return len(self.users)

    def where(self, mask: BoolArray | IntArray) -> Events:
        return Events(
            self.users[mask],
            self.products[mask],
            self.at[mask],
            self.weight[mask],
            self.group[mask],
        )


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Everything the engine learns from; ``dismissed`` only ever excludes."""

    purchases: Events
    tags: Events
    views: Events
    dismissed: Events

    @classmethod
    def empty(cls) -> Behaviour:
        return cls(Events.empty(), Events.empty(), Events.empty(), Events.empty())

    def _kinds(self) -> tuple[Events, Events, Events, Events]:
        return self.purchases, self.tags, self.views, self.dismissed

    def by_user(self, user_ids: IntArray) -> Iterator[tuple[int, Behaviour]]:
        """Each user's own behaviour, in the order given; one sort per kind, not a scan each."""
        split = [_split_by_user(e) for e in self._kinds()]
        for user_id in user_ids.tolist():
            p, t, v, d = (parts.get(user_id) or Events.empty() for parts in split)
            yield user_id, Behaviour(p, t, v, d)


def _split_by_user(events: Events) -> dict[int, Events]:
    order = np.argsort(events.users, kind="stable")
    users = events.users[order]
    keys, starts = np.unique(users, return_index=True)
    ends = [*starts[1:].tolist(), len(users)] if len(starts) else []
    return {
        int(k): events.where(order[s:e])
        for k, s, e in zip(keys, starts.tolist(), ends, strict=True)
    }


@dataclass(frozen=True, slots=True)
class Products:
    """The catalog, sorted by id: the index of a product is its row and column."""

    ids: IntArray
    shops: IntArray
    categories: IntArray
    available: BoolArray

    @classmethod
    def of(cls, ids: Any, shops: Any, categories: Any, available: Any) -> Products:
        i = _ints(ids)
        order = np.argsort(i, kind="stable")
        if len(np.unique(i)) != len(i):
            raise ValueError("product ids repeat")
        return cls(
            ids=i[order],
            shops=_ints(shops)[order],
            categories=_ints(categories)[order],
            available=np.asarray(available, dtype=np.bool_).reshape(-1)[order],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, product_ids: IntArray) -> tuple[IntArray, BoolArray]:
        """The index of each of ``product_ids``, and which of them the catalog knows."""
        if len(self.ids) == 0:
            return np.zeros(len(product_ids), dtype=np.int64), np.zeros(
                len(product_ids), dtype=np.bool_
            )
        at = np.minimum(np.searchsorted(self.ids, product_ids), len(self.ids) - 1)
        return at.astype(np.int64), self.ids[at] == product_ids

    def index_of(self, product_ids: IntArray) -> IntArray:
        """Indices of the known products among ``product_ids``; unknown ones are dropped."""
        at, known = self.locate(product_ids)
        return at[known]

    def availability(self, unavailable_ids: IntArray) -> BoolArray:
        """Availability now, for a model built earlier: stock and sale flags change."""
        available = np.ones(len(self.ids), dtype=np.bool_)
        available[self.index_of(unavailable_ids)] = False
        return available


@dataclass(frozen=True, slots=True)
class Counts:
    """What a model is computed from, kept so that one buyer's change folds in cheaply."""

    users: IntArray  # sorted ids of the users with behaviour: row i of the matrices
    bought: Any  # csr users x products, 1 where the user ever bought the product
    engaged: Any  # csr users x products, 1 where they bought, tagged or viewed it
    purchases: Events  # everyone's, for trending and re-buy cycles


@dataclass(frozen=True, slots=True)
class Model:
    products: Products
    co_purchase: Any  # csr n x n: cosine over who bought what
    co_behaviour: Any  # csr n x n: cosine over who bought, tagged or viewed what
    category_count: int
    popularity: FloatArray  # distinct buyers, scaled to max 1
    trending: FloatArray  # recent purchases, decayed, scaled to max 1; all > 0
    built_at: float
    # Per category code: the share of (buyer, product) pairs bought in two or more
    # orders, and the median days between such orders (what "consumable" means here).
    repeat_rate: FloatArray
    repeat_days: FloatArray
    counts: Counts


@dataclass(frozen=True, slots=True)
class Pick:
    product_id: int
    score: float
    reason: Reason
    based_on_product_id: int | None


def _user_item(products: Products, events: Events, users: IntArray) -> Any:
    """Binary users x items: did this user ever do this with this product."""
    rows = np.searchsorted(users, events.users)
    cols, known = products.locate(events.products)
    matrix = sparse.csr_matrix(
        (np.ones(int(known.sum())), (rows[known], cols[known])), shape=(len(users), len(products))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


# Item pairs scored at once. The full item x item product is nearly dense before the
# pruning (4 M pairs for 2,000 products), and its temporaries peaked at ~300 MiB in
# the server process; a block of rows at a time keeps them to a few MiB.
BLOCK_ENTRIES = 1 << 18


def _neighbour_block(
    block: Any, items: IntArray, binary: Any, buyers: FloatArray, k: int, shrinkage: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Top ``k`` neighbours of the items ``items``, whose user columns are ``block``'s rows.

    Each item's neighbours depend on its own row of co-counts alone: computed for any
    subset of items, a row comes out bit for bit as in the whole matrix.
    """
    n = binary.shape[1]
    co = (block @ binary).tocoo()
    local, c = co.row.astype(np.int64), co.col.astype(np.int64)
    r = items[local]
    off_diagonal = r != c
    local, r, c, shared = (
        local[off_diagonal],
        r[off_diagonal],
        c[off_diagonal],
        co.data[off_diagonal],
    )
    cosine = shared / np.sqrt(buyers[r] * buyers[c])
    damped = cosine * shared / (shared + shrinkage)
    dense = np.zeros((len(items), n))
    dense[local, c] = damped
    rows, cols = _top_k_dense(dense, k)
    return items[rows], cols, dense[rows, cols]


def _top_k_dense(values: FloatArray, k: int) -> tuple[IntArray, IntArray]:
    """Each row's ``k`` largest positive entries, ties to the lower column; found by a
    partition (linear per row), not a full sort."""
    n = values.shape[1]
    if n <= k:
        rows, cols = np.nonzero(values > 0)
        return rows.astype(np.int64), cols.astype(np.int64)
    kth = np.partition(values, n - k, axis=1)[:, n - k][:, None]
    above = (values > kth) & (values > 0)
    tied = (values == kth) & (values > 0)
    room = k - above.sum(axis=1, keepdims=True)
    # Among entries equal to the k-th largest, the lowest columns fill the room left.
    keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
    rows, cols = np.nonzero(keep)
    return rows.astype(np.int64), cols.astype(np.int64)


def cosine_neighbours(
    user_item: Any, k: int, shrinkage: float, *, block_entries: int = BLOCK_ENTRIES
) -> Any:
    """Item-item cosine of a binary user x item matrix, shrunk, self-free, top ``k`` per item.

    Computed ``block_entries // items`` items at a time; each item's neighbours depend
    on its own row alone, so the blocks change nothing but the memory taken.
    """
    binary = sparse.csr_matrix(user_item)
    by_item = binary.T.tocsr()
    n = binary.shape[1]
    buyers = np.asarray(binary.sum(axis=0), dtype=np.float64).reshape(-1)
    step = max(1, block_entries // max(1, n))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    values: list[FloatArray] = []
    for start in range(0, n, step):
        items = np.arange(start, min(n, start + step), dtype=np.int64)
        r, c, v = _neighbour_block(
            by_item[start : start + step], items, binary, buyers, k, shrinkage
        )
        rows.append(r)
        cols.append(c)
        values.append(v)
    if not rows:
        return sparse.csr_matrix((n, n))
    return _canonical(np.concatenate(rows), np.concatenate(cols), np.concatenate(values), n)


def _canonical(rows: IntArray, cols: IntArray, values: FloatArray, n: int) -> Any:
    """An n x n csr with sorted indices: equal entries give equal arrays, and equal sums."""
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(n, n))
    matrix.sort_indices()
    return matrix


def cosine_rows(user_item: Any, items: IntArray, k: int, shrinkage: float) -> Any:
    """``cosine_neighbours`` for the rows ``items`` only (the rest empty), bit for bit."""
    binary = sparse.csr_matrix(user_item)
    n = binary.shape[1]
    items = np.unique(np.asarray(items, dtype=np.int64))
    buyers = np.asarray(binary.sum(axis=0), dtype=np.float64).reshape(-1)
    block = binary.T.tocsr()[items]
    r, c, v = _neighbour_block(block, items, binary, buyers, k, shrinkage)
    return _canonical(r, c, v, n)


DEFAULT_CYCLE_DAYS = 30.0


def repeat_cycles(
    products: Products, purchases: Events, category_count: int
) -> tuple[FloatArray, FloatArray]:
    """Per category: how often a buyer orders the same product again, and after how long.

    Learned from orders alone: the share of (buyer, product) pairs bought in at least
    two distinct orders, and the median days between consecutive such orders.
    """
    rate = np.zeros(category_count)
    days = np.full(category_count, DEFAULT_CYCLE_DAYS)
    cols, known = products.locate(purchases.products)
    if not known.any():
        return rate, days
    users, cols = purchases.users[known], cols[known]
    at, group = purchases.at[known], purchases.group[known]
    order = np.lexsort((group, at, cols, users))
    users, cols, at, group = users[order], cols[order], at[order], group[order]
    same_pair = (users[1:] == users[:-1]) & (cols[1:] == cols[:-1])
    again = same_pair & (group[1:] != group[:-1])
    starts = np.r_[True, ~same_pair]
    pair_of = np.cumsum(starts) - 1
    categories = products.categories
    pair_category = categories[cols[starts]]
    repeated = np.bincount(pair_of[1:][again], minlength=int(starts.sum())) > 0
    pairs = np.bincount(pair_category, minlength=category_count)
    repeats = np.bincount(pair_category[repeated], minlength=category_count)
    rate = repeats / np.maximum(1, pairs)
    gaps = (at[1:] - at[:-1])[again] / DAY
    gap_category = categories[cols[1:][again]]
    for category in np.unique(gap_category).tolist():
        days[category] = max(1.0, float(np.median(gaps[gap_category == category])))
    return rate.astype(np.float64), days


def build_model(
    products: Products, behaviour: Behaviour, now: float, config: EngineConfig = DEFAULT_CONFIG
) -> Model:
    """The item-item model and popularity, from everyone's behaviour up to ``now``."""
    kinds = (behaviour.purchases, behaviour.tags, behaviour.views)
    users = np.unique(np.concatenate([e.users for e in kinds]))
    bought, engaged = _binary(products, behaviour, users)
    counts = Counts(users, bought, engaged, behaviour.purchases)
    return _from_counts(
        products,
        counts,
        now,
        config,
        co_purchase=cosine_neighbours(bought, config.neighbours, config.shrinkage),
        co_behaviour=cosine_neighbours(engaged, config.neighbours, config.shrinkage),
    )


def _binary(products: Products, behaviour: Behaviour, users: IntArray) -> tuple[Any, Any]:
    bought = _user_item(products, behaviour.purchases, users)
    engaged = bought + _user_item(products, behaviour.tags, users)
    engaged = engaged + _user_item(products, behaviour.views, users)
    engaged.data[:] = 1.0
    return bought, engaged


def _from_counts(
    products: Products,
    counts: Counts,
    now: float,
    config: EngineConfig,
    *,
    co_purchase: Any,
    co_behaviour: Any,
) -> Model:
    n = len(products)
    popularity = np.asarray(counts.bought.sum(axis=0), dtype=np.float64).reshape(-1)
    popularity = popularity / max(1.0, float(popularity.max(initial=0.0)))

    purchases = counts.purchases
    recent = purchases.where(purchases.at >= now - config.trending_days * DAY)
    cols, known = products.locate(recent.products)
    # Summed in one fixed order, whatever order the events came in: a model folded
    # buyer by buyer gives the same floats as one built at once.
    order = np.lexsort((recent.group[known], recent.users[known], recent.at[known], cols[known]))
    cols, at = cols[known][order], recent.at[known][order]
    age_days = np.maximum(0.0, now - at) / DAY
    decayed = np.power(0.5, age_days / (config.trending_days / 2))
    trending = np.bincount(cols, weights=decayed, minlength=n).astype(np.float64)
    # All-time popularity breaks ties among products nobody bought lately, and a
    # constant keeps every score positive; cold start always has something to show.
    trending = trending + 1e-3 * popularity + 1e-6
    trending = trending / float(trending.max(initial=1e-6))

    category_count = int(products.categories.max(initial=-1)) + 1
    repeat_rate, repeat_days = repeat_cycles(products, purchases, category_count)
    return Model(
        products=products,
        co_purchase=co_purchase,
        co_behaviour=co_behaviour,
        category_count=category_count,
        popularity=popularity,
        trending=trending,
        built_at=now,
        repeat_rate=repeat_rate,
        repeat_days=repeat_days,
        counts=counts,
    )


def _concat(a: Events, b: Events) -> Events:
    return Events(
        np.concatenate([a.users, b.users]),
        np.concatenate([a.products, b.products]),
        np.concatenate([a.at, b.at]),
        np.concatenate([a.weight, b.weight]),
        np.concatenate([a.group, b.group]),
    )


def _with_row(matrix: Any, at: int, present: bool, row: Any | None) -> Any:
    """``matrix`` with row ``at`` replaced by ``row`` (inserted if not ``present``;
    removed if ``row`` is None)."""
    parts = [matrix[:at]]
    if row is not None:
        parts.append(row)
    parts.append(matrix[at + 1 :] if present else matrix[at:])
    return sparse.vstack(parts, format="csr")


def _replace_rows(matrix: Any, rows: IntArray, fresh: Any) -> Any:
    old = matrix.tocoo()
    keep = ~np.isin(old.row, rows)
    new = fresh.tocoo()
    return _canonical(
        np.concatenate([old.row[keep], new.row]).astype(np.int64),
        np.concatenate([old.col[keep], new.col]).astype(np.int64),
        np.concatenate([old.data[keep], new.data]),
        matrix.shape[0],
    )


def with_buyer(model: Model, user_id: int, own: Behaviour, config: EngineConfig) -> Model:
    """The model with ``own`` as the user's whole behaviour: the incremental update."""
    return with_buyers(model, {user_id: own}, config)


def with_buyers(model: Model, changes: dict[int, Behaviour], config: EngineConfig) -> Model:
    """The model with each ``changes[user]`` as that user's whole behaviour.

    Popularity, trending and re-buy cycles come out as a full rebuild would make them;
    of the similarities, the rows of these users' own histories (all their lists read)
    are recomputed from everyone's current behaviour, bit for bit as a full rebuild
    would; the other rows catch up at the next full rebuild. Several buyers at once
    cost about what one does.
    """
    products, counts = model.products, model.counts
    users, bought, engaged = counts.users, counts.bought, counts.engaged
    purchases = counts.purchases
    history_bought: list[IntArray] = []
    history_engaged: list[IntArray] = []
    # A view or a tag leaves everyone's orders as they were: then popularity, trending
    # and re-buy cycles are the model's own, and need no recomputing.
    same_orders = True
    for user_id, own in sorted(changes.items()):
        if same_orders and not _same_events(
            purchases.where(purchases.users == user_id), own.purchases
        ):
            same_orders = False
        at = int(np.searchsorted(users, user_id))
        present = at < len(users) and int(users[at]) == user_id
        active = len(own.purchases) + len(own.tags) + len(own.views) > 0
        one = np.asarray([user_id], dtype=np.int64)
        bought_row, engaged_row = _binary(products, own, one) if active else (None, None)
        rest = users[at + 1 :] if present else users[at:]
        users = np.concatenate([users[:at], *([one] if active else []), rest]).astype(np.int64)
        bought = _with_row(bought, at, present, bought_row)
        engaged = _with_row(engaged, at, present, engaged_row)
        purchases = _concat(purchases.where(purchases.users != user_id), own.purchases)
        history_bought.append(products.index_of(own.purchases.products))
        history_engaged.append(
            products.index_of(np.concatenate([own.tags.products, own.views.products]))
        )
    updated = Counts(users=users, bought=bought, engaged=engaged, purchases=purchases)
    k, shrinkage = config.neighbours, config.shrinkage
    rows_bought = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *history_bought]))
    rows_engaged = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *history_engaged]))
    co_purchase = _replace_rows(
        model.co_purchase, rows_bought, cosine_rows(bought, rows_bought, k, shrinkage)
    )
    co_behaviour = _replace_rows(
        model.co_behaviour, rows_engaged, cosine_rows(engaged, rows_engaged, k, shrinkage)
    )
    if same_orders:
        counts = replace(updated, purchases=counts.purchases)
        return replace(model, counts=counts, co_purchase=co_purchase, co_behaviour=co_behaviour)
    return _from_counts(
        products,
        updated,
        model.built_at,
        config,
        co_purchase=co_purchase,
        co_behaviour=co_behaviour,
    )


def _same_events(a: Events, b: Events) -> bool:
    """Whether two lists hold the same events, in whatever order."""
    if len(a) != len(b):
        return False
    keys_a = np.lexsort((a.weight, a.at, a.products, a.group))
    keys_b = np.lexsort((b.weight, b.at, b.products, b.group))
    return all(
        np.array_equal(x[keys_a], y[keys_b])
        for x, y in zip(
            (a.users, a.products, a.at, a.weight, a.group),
            (b.users, b.products, b.at, b.weight, b.group),
            strict=True,
        )
    )


def _history(
    events: Events, products: Products, now: float, half_life_days: float
) -> tuple[IntArray, FloatArray]:
    """The distinct products of a history and their weights, recent ones heavier."""
    cols, known = products.locate(events.products)
    age_days = np.maximum(0.0, now - events.at[known]) / DAY
    weights = events.weight[known] * np.power(0.5, age_days / half_life_days)
    items, inverse = np.unique(cols[known], return_inverse=True)
    totals = np.bincount(inverse, weights=weights, minlength=len(items)).astype(np.float64)
    return items.astype(np.int64), totals


@dataclass(frozen=True, slots=True)
class _Source:
    """One kind of the user's history: its distinct products, their weights, its similarity."""

    reason: Reason
    items: IntArray
    weights: FloatArray
    similarity: Any


def _relevance(model: Model, source: _Source, prior: float) -> FloatArray:
    """Every product's summed similarity to the source's history (its own entry excluded)."""
    n = len(model.products)
    if len(source.items) == 0:
        return np.zeros(n)
    total = np.asarray(source.similarity[source.items].T @ source.weights, dtype=np.float64)
    total = total.reshape(-1)
    if prior > 0:
        # The prior summed per category is one bincount, not a history x catalog matrix.
        categories = model.products.categories
        per_category = np.bincount(
            categories[source.items], weights=source.weights, minlength=model.category_count
        )
        own = np.zeros(n)
        own[source.items] = source.weights
        total = total + prior * (per_category[categories] - own)
    return total


def _based_on(model: Model, source: _Source, chosen: IntArray, prior: float) -> IntArray:
    """For each chosen product, the history product that contributed most to its score.

    Ties (equal weight and similarity) go to the lower product id, so runs repeat.
    """
    block = np.asarray(source.similarity[source.items][:, chosen].toarray(), dtype=np.float64)
    categories = model.products.categories
    same = categories[source.items][:, None] == categories[chosen][None, :]
    # A product is not similar to itself: it must not become its own "based on".
    same &= source.items[:, None] != chosen[None, :]
    block = (block + prior * same) * source.weights[:, None]
    best: IntArray = model.products.ids[source.items[block.argmax(axis=0)]]
    return best


def _diverse(
    model: Model,
    ranked: IntArray,
    config: EngineConfig,
    chosen: list[int],
    shop_counts: dict[int, int],
    category_counts: dict[int, int],
) -> None:
    """Takes ``ranked`` candidates in order into ``chosen`` while the caps allow."""
    shops, categories = model.products.shops, model.products.categories
    for candidate in ranked.tolist():
        if len(chosen) >= config.list_size:
            return
        shop, category = int(shops[candidate]), int(categories[candidate])
        if shop_counts.get(shop, 0) >= config.per_shop:
            continue
        if category_counts.get(category, 0) >= config.per_category:
            continue
        chosen.append(candidate)
        shop_counts[shop] = shop_counts.get(shop, 0) + 1
        category_counts[category] = category_counts.get(category, 0) + 1


def _ranked(values: FloatArray, candidates: IntArray, ids: IntArray) -> IntArray:
    """Candidates by value, highest first; ties by product id, so runs repeat exactly."""
    order = np.lexsort((ids[candidates], -values[candidates]))
    return candidates[order]


def _shares(values: FloatArray, mass: float) -> FloatArray:
    """``values`` (one row or several, summed) rescaled to add up to ``mass``."""
    total = float(values.sum())
    return values * (mass / total) if total > 0 else values


def _freshness(products: Products, user: Behaviour, now: float, config: EngineConfig) -> float:
    """0.5 ** (days since the buyer's latest view or tag / the intent half-life)."""
    latest = max(
        float(user.tags.at.max(initial=-np.inf)), float(user.views.at.max(initial=-np.inf))
    )
    if not np.isfinite(latest):
        return 0.0
    return float(np.power(0.5, max(0.0, now - latest) / DAY / config.intent_half_life_days))


def _last_bought(products: Products, purchases: Events) -> FloatArray:
    """Per product, when the buyer last ordered it; -inf if never."""
    last = np.full(len(products), -np.inf)
    cols, known = products.locate(purchases.products)
    np.maximum.at(last, cols[known], purchases.at[known])
    return last


def _intent(
    products: Products, events: Events, now: float, config: EngineConfig, last_bought: FloatArray
) -> FloatArray:
    """Per product: how strongly the buyer's recent views or tags of it say "want".

    Only what happened after the buyer last bought the product counts: looking at it
    again after buying it is new interest; the look that led to the purchase is spent.
    """
    cols, known = products.locate(events.products)
    cols, at, weight = cols[known], events.at[known], events.weight[known]
    since = at > last_bought[cols]
    age_days = np.maximum(0.0, now - at[since]) / DAY
    fresh = weight[since] * np.power(0.5, age_days / config.intent_half_life_days)
    return np.bincount(cols[since], weights=fresh, minlength=len(products)).astype(np.float64)


def _sessions(
    products: Products, user: Behaviour, now: float, config: EngineConfig
) -> tuple[FloatArray, FloatArray]:
    """Per product, the pull of the buyer's pending video sessions: (tags, views).

    A session is the products of one shop the buyer viewed or tagged within
    ``session_gap_minutes`` of each other (what one video features), at least
    ``session_min_products`` of them, in the last ``session_max_days``. It is pending
    until the buyer orders one of its products: that order spends the whole session.
    Each event pulls with its weight (a tag ``tag_intent`` times a view), halving every
    ``session_half_life_days``.
    """
    start = now - config.session_max_days * DAY
    tags = user.tags.where(user.tags.at >= start)
    views = user.views.where(user.views.at >= start)
    events = _concat(tags, views)
    cols, known = products.locate(events.products)
    is_tag = (np.arange(len(events)) < len(tags))[known]
    cols, at = cols[known], events.at[known]
    weight = events.weight[known] * np.where(is_tag, config.tag_intent, 1.0)
    pulls = (np.zeros(len(products)), np.zeros(len(products)))
    if len(cols) == 0:
        return pulls
    shops = products.shops[cols]
    gap = config.session_gap_minutes * 60.0
    together = (shops[:, None] == shops[None, :]) & (np.abs(at[:, None] - at[None, :]) <= gap)
    # Spent: one of the session's products was ordered after the session began.
    ordered = _last_bought(products, user.purchases)[cols] >= at - gap
    spent = (together & ordered[None, :]).any(axis=1)
    pending = (_distinct_together(together, cols) >= config.session_min_products) & ~spent
    age_days = np.maximum(0.0, now - at) / DAY
    pull = weight * np.power(0.5, age_days / config.session_half_life_days)
    for pulled, of_kind in zip(pulls, (is_tag, ~is_tag), strict=True):
        chosen = pending & of_kind
        pulled += np.bincount(cols[chosen], weights=pull[chosen], minlength=len(products))
    return pulls


def _distinct_together(together: BoolArray, cols: IntArray) -> IntArray:
    """Per event, how many distinct products are among the events ``together`` with it."""
    codes = np.unique(cols, return_inverse=True)[1]
    present = np.zeros((len(cols), int(codes.max()) + 1), dtype=np.bool_)
    rows, others = np.nonzero(together)
    present[rows, codes[others]] = True
    counts: IntArray = present.sum(axis=1).astype(np.int64)
    return counts


def _session_basket(
    model: Model, session: FloatArray, allowed: BoolArray, config: EngineConfig
) -> FloatArray:
    """Per row of ``session`` (its shares, by kind), the rest of the sessions' baskets.

    An order that starts with a session product is filled from that product's shop,
    mostly its category. Each session product hands its share on to the other products
    of its shop by popularity, ``session_same_category`` of it to those of its category:
    all of it when it cannot be shown itself (out of stock, say: the order that would
    have started with it is likely to hold its neighbours on the shelf), else the
    ``basket_of_shown`` part of it.
    """
    products = model.products
    basket = np.zeros(session.shape)
    inside = np.flatnonzero(session.sum(axis=0) > 0)
    for x in inside.tolist():
        shop = np.where(products.shops == products.shops[x], model.popularity, 0.0)
        shop[inside] = 0.0
        kind = np.where(products.categories == products.categories[x], shop, 0.0)
        shelf = _shares(kind, config.session_same_category) + _shares(
            shop, 1.0 - config.session_same_category
        )
        mass = session[:, x] * (config.basket_of_shown if allowed[x] else 1.0)
        basket += mass[:, None] * shelf[None, :]
    return basket


def _buy_again(
    model: Model, last_bought: FloatArray, now: float, config: EngineConfig
) -> FloatArray:
    """Per product the buyer bought: how due a re-buy is (0 for non-consumables)."""
    products = model.products
    again = np.zeros(len(products))
    items = np.flatnonzero(np.isfinite(last_bought))
    if len(items) == 0:
        return again
    category = products.categories[items]
    # Any product is bought twice now and then; consumables are re-bought far more
    # often than the typical category, and only that excess says "buy it again".
    typical = float(np.median(model.repeat_rate)) if len(model.repeat_rate) else 0.0
    consumable = model.repeat_rate[category] - typical >= config.again_min_rate
    age_days = np.maximum(0.0, now - last_bought[items]) / DAY
    due = np.minimum(config.again_due_cap, age_days / model.repeat_days[category])
    # Which consumable is next depends on how due it is, not on how much more its
    # category is re-bought than another consumable's (that difference was noise).
    again[items] = np.where(consumable, due, 0.0)
    return again


def recommend(
    model: Model,
    user: Behaviour,
    now: float,
    config: EngineConfig = DEFAULT_CONFIG,
    available: BoolArray | None = None,
) -> list[Pick]:
    """The user's list, best first: personal picks, then trending ones to fill it.

    Personal picks are what the buyer viewed or tagged lately and has not bought
    (intent), consumables due again, and products similar to the buyer's history.
    Never a product the user dismissed, nor one unavailable (out of stock or not on
    sale; ``available`` overrides the model's view of that), nor one the user ordered
    unless its category is re-bought and it is due. Scores are in (0, 1]; trending
    fillers score below every personal pick.
    """
    products = model.products
    n = len(products)
    if n == 0:
        return []
    allowed = (products.available if available is None else available).copy()
    last_bought = _last_bought(products, user.purchases)
    again = _buy_again(model, last_bought, now, config)
    tagged = config.tag_intent * _intent(products, user.tags, now, config, last_bought)
    viewed = _intent(products, user.views, now, config, last_bought)
    # Bought before: shown again only when due, or looked at again since.
    bought = np.isfinite(last_bought)
    allowed[bought & (again <= 0) & (tagged <= 0) & (viewed <= 0)] = False
    allowed[products.index_of(user.dismissed.products)] = False

    sources = [
        _Source(reason, *_history(events, products, now, config.half_life_days), similarity)
        for reason, events, similarity in (
            (Reason.BOUGHT_TOGETHER, user.purchases, model.co_purchase),
            (Reason.SIMILAR_TO_TAGGED, user.tags, model.co_behaviour),
            (Reason.SIMILAR_TO_VIEWED, user.views, model.co_behaviour),
        )
    ]
    weights = (config.bought_weight, config.tagged_weight, config.viewed_weight)
    similar = np.vstack(
        [
            w * _relevance(model, source, config.category_prior)
            for w, source in zip(weights, sources, strict=True)
        ]
    )
    similar = similar * np.power(model.popularity + 1e-3, config.popularity_exponent)
    # Each kind of evidence is a share of one unit, weighted by how often it explains an
    # order: a buyer with 3 fresh views and 20 due consumables gets the views first.
    similar = config.similar_weight * _shares(similar, 1.0)
    session_tagged, session_viewed = _sessions(products, user, now, config)
    freshness = _freshness(products, user, now, config)
    # Intent: a pending video session first (the likeliest next order of all), then
    # whatever else the buyer looked at lately.
    session = config.session_weight * _shares(np.vstack([session_tagged, session_viewed]), 1.0)
    intent = session + config.intent_weight * freshness * _shares(np.vstack([tagged, viewed]), 1.0)
    # The rest of a session's basket: similar to what the buyer tagged, or viewed.
    similar[1:] += _session_basket(model, session, allowed, config)
    # A product the buyer bought is back only for itself (looked at again, or due):
    # never "similar to" what they bought.
    similar[:, bought] = 0.0
    parts = np.vstack([similar, intent, config.again_weight * _shares(again, 1.0)])
    reasons_of = (*(s.reason for s in sources), Reason.TAGGED, Reason.VIEWED, Reason.BUY_AGAIN)
    relevance = parts.sum(axis=0)
    relevance[~allowed] = 0.0

    chosen: list[int] = []
    shop_counts: dict[int, int] = {}
    category_counts: dict[int, int] = {}
    personal = np.flatnonzero(relevance > 0)
    _diverse(
        model,
        _ranked(relevance, personal, products.ids),
        config,
        chosen,
        shop_counts,
        category_counts,
    )
    picks: list[Pick] = []
    if chosen:
        indices = np.asarray(chosen, dtype=np.int64)
        # The reason is the kind of history that contributed most; ties go to purchases.
        reasons = parts[:, indices].argmax(axis=0)
        based_on = {
            row: _based_on(model, sources[row], indices, config.category_prior)
            for row in sorted(set(reasons.tolist()))
            if row < len(sources)
        }
        top = float(relevance[indices[0]])
        for position, candidate in enumerate(chosen):
            row = int(reasons[position])
            # Intent and re-buys are about the product itself: nothing else to name.
            basis = int(based_on[row][position]) if row in based_on else None
            picks.append(
                Pick(
                    product_id=int(products.ids[candidate]),
                    score=float(relevance[candidate]) / top,
                    reason=reasons_of[row],
                    based_on_product_id=basis,
                )
            )

    if len(chosen) < config.list_size:
        taken = np.zeros(n, dtype=np.bool_)
        taken[chosen] = True
        fillers = np.flatnonzero(allowed & ~taken)
        start = len(chosen)
        _diverse(
            model,
            _ranked(model.trending, fillers, products.ids),
            config,
            chosen,
            shop_counts,
            category_counts,
        )
        added = chosen[start:]
        if added:
            # Cold start shows trending at full strength; otherwise it only fills in.
            ceiling = 1.0 if not picks else 0.5 * picks[-1].score
            top = float(model.trending[added[0]])
            for candidate in added:
                picks.append(
                    Pick(
                        product_id=int(products.ids[candidate]),
                        score=ceiling * float(model.trending[candidate]) / top,
                        reason=Reason.TRENDING,
                        based_on_product_id=None,
                    )
                )
    return picks
