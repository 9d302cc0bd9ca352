"""The `implicit` library's recommenders, as the bar the engine is measured against.

Only ``ordercenter recommend --evaluate`` imports this module (implicit is a dev
dependency; neither the API nor the worker loads it). Every model learns from the
same training behaviour as the engine, as one users x products confidence matrix:
an order line counts 1, a tag 1, a view log1p(view count), summed per pair. The
libraries know nothing of time, so one hyper-parameter gives them the engine's main
lever too: ``recency`` multiplies an event's weight by 1 + recency x 0.5^(age / 2
days), age counted back from the buyer's held-out moment.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import product as grid
from typing import Any

import numpy as np
from scipy import sparse

from resolvers.recommendations.engine import Behaviour, FloatArray, IntArray, Products


@dataclass(frozen=True, slots=True)
class Interactions:
    """Training behaviour as implicit wants it: users x products, rows in ``users`` order."""

    users: IntArray  # sorted user ids: row i is users[i]
    matrix: Any  # csr float32, users x products

    def rows_of(self, user_ids: IntArray) -> IntArray:
        at = np.minimum(np.searchsorted(self.users, user_ids), max(0, len(self.users) - 1))
        return at.astype(np.int64)


RECENCY_HALF_LIFE_DAYS = 2.0


def interactions(
    products: Products,
    behaviour: Behaviour,
    cutoff: Mapping[int, float] | None = None,
    recency: float = 0.0,
) -> Interactions:
    kinds = (behaviour.purchases, behaviour.tags, behaviour.views)
    users = np.unique(np.concatenate([e.users for e in kinds]))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    values: list[FloatArray] = []
    moments = cutoff or {}
    latest = max([*moments.values(), 0.0])
    for events in kinds:
        at, known = products.locate(events.products)
        rows.append(np.searchsorted(users, events.users[known]))
        cols.append(at[known])
        weight = events.weight[known]
        if recency > 0:
            now = np.asarray([moments.get(u, latest) for u in events.users[known].tolist()])
            age_days = np.maximum(0.0, now - events.at[known]) / 86_400.0
            weight = weight * (1.0 + recency * np.power(0.5, age_days / RECENCY_HALF_LIFE_DAYS))
        values.append(weight)
    matrix = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(users), len(products)),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    return Interactions(users, matrix)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model with one setting of its hyper-parameters."""

    family: str  # "ALS", "BPR", "item-item cosine", "item-item BM25"
    params: Mapping[str, Any]
    # Whether a product the buyer already bought may be recommended (a re-buy);
    # chosen on the validation split like the rest.
    rebuy: bool
    recency: float = 0.0

    @property
    def label(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{settings}, recency={self.recency:g}, rebuy={'yes' if self.rebuy else 'no'}"


FAMILIES = ("ALS", "BPR", "item-item cosine", "item-item BM25")

# Searched on the validation split; ranges around implicit's defaults.
_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "ALS": {"factors": (32, 64), "regularization": (0.01, 0.1), "alpha": (1.0, 10.0)},
    "BPR": {"factors": (64,), "learning_rate": (0.01, 0.05), "regularization": (0.01,)},
    "item-item cosine": {"K": (20, 100)},
    "item-item BM25": {"K": (20, 100), "B": (0.5, 0.75)},
}


RECENCIES = (0.0, 10.0)


def candidates(family: str) -> Iterator[Candidate]:
    names = list(_GRIDS[family])
    for recency in RECENCIES:
        for values in grid(*(_GRIDS[family][n] for n in names)):
            for rebuy in (False, True):
                yield Candidate(family, dict(zip(names, values, strict=True)), rebuy, recency)


Scorer = Callable[[IntArray], FloatArray]


def fit(candidate: Candidate, data: Interactions, seed: int) -> Scorer:
    """Trains the model; returns a function from matrix rows to their scores (rows x products)."""
    import implicit.cpu.als  # noqa: F401  (loads its BLAS before the limit below is set)
    from implicit.utils import ParameterWarning
    from threadpoolctl import threadpool_limits

    # implicit runs threads of its own and warns (and slows down) when BLAS does too.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # Its BM25 weighting hands its own item-item fit a COO matrix, and then warns
        # about the conversion: nothing we pass, nothing we can change.
        warnings.simplefilter("ignore", ParameterWarning)
        return _fit(candidate, data, seed)


def _fit(candidate: Candidate, data: Interactions, seed: int) -> Scorer:
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    p = dict(candidate.params)
    if candidate.family in ("ALS", "BPR"):
        model: Any
        if candidate.family == "ALS":
            alpha = float(p.pop("alpha"))
            model = AlternatingLeastSquares(
                **p, iterations=15, alpha=alpha, random_state=seed, num_threads=1
            )
        else:
            model = BayesianPersonalizedRanking(
                **p, iterations=100, random_state=seed, num_threads=1
            )
        model.fit(data.matrix, show_progress=False)
        users = np.asarray(model.user_factors)
        items = np.asarray(model.item_factors)

        def factors(rows: IntArray) -> FloatArray:
            return np.asarray(users[rows] @ items.T, dtype=np.float64)

        return factors
    if candidate.family == "item-item cosine":
        model = CosineRecommender(K=int(p["K"]), num_threads=1)
    else:
        model = BM25Recommender(K=int(p["K"]), B=float(p["B"]), num_threads=1)
    model.fit(data.matrix, show_progress=False)
    similarity = model.similarity.tocsr()

    def neighbours(rows: IntArray) -> FloatArray:
        return np.asarray((data.matrix[rows] @ similarity).toarray(), dtype=np.float64)

    return neighbours
