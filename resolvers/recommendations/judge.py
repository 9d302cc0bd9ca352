"""The engine against popularity and the `implicit` library, on the same held-out orders.

For one dataset: each buyer's latest order is held out (``evaluate.hold_out_latest``);
every recommender learns from the same rest and skips the same products (unavailable
today; what the buyer already bought unless the recommender allows re-buys). The
library's hyper-parameters are chosen per dataset on a validation split: the
training data with each buyer's latest remaining order held out in turn, scored by
hit-rate@k. Over several datasets (seeds) the table shows mean ± standard error of
the per-seed means, and the engine's lead over the best library model is paired by
buyer: the mean and standard error of (engine hit - model hit) over every buyer of
every seed.

Imported by ``ordercenter recommend --evaluate`` only: it loads `implicit`.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_async
from db.seed import IntentLog, SeedSize, seed_database
from resolvers.recommendations import library
from resolvers.recommendations.data import load_everything
from resolvers.recommendations.engine import (
    DEFAULT_CONFIG,
    EngineConfig,
    FloatArray,
    IntArray,
    Products,
    build_model,
    recommend,
)
from resolvers.recommendations.engine import Behaviour as Behaviour
from resolvers.recommendations.evaluate import Split, hold_out_latest

ENGINE = "engine"
POPULARITY = "popularity"

# A recommender for a split: each buyer's top k product ids, best first.
Ranker = Callable[[Products, Split, IntArray, int], list[list[int]]]


@dataclass(frozen=True, slots=True)
class PerBuyer:
    """Each evaluated buyer's scores, in the order of the split's sorted buyers."""

    hit: FloatArray
    recall: FloatArray
    ndcg: FloatArray


def score_lists(lists: Sequence[Sequence[int]], held: Sequence[frozenset[int]], k: int) -> PerBuyer:
    """hit-rate@k, recall@k and NDCG@k (binary relevance) of each buyer's list."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hit, recall, ndcg = (np.zeros(len(lists)) for _ in range(3))
    for i, (ranked, wanted) in enumerate(zip(lists, held, strict=True)):
        gains = np.asarray([p in wanted for p in list(ranked)[:k]], dtype=np.float64)
        found = float(gains.sum())
        hit[i] = found > 0
        recall[i] = found / len(wanted)
        ideal = float(discounts[: min(k, len(wanted))].sum())
        ndcg[i] = float(gains @ discounts[: len(gains)]) / ideal
    return PerBuyer(hit, recall, ndcg)


def _buyers(split: Split) -> IntArray:
    return np.asarray(sorted(split.held_out), dtype=np.int64)


def engine_ranker(config: EngineConfig = DEFAULT_CONFIG) -> Ranker:
    def rank(products: Products, split: Split, buyers: IntArray, k: int) -> list[list[int]]:
        if len(buyers) == 0:
            return []
        wide = replace(config, list_size=max(config.list_size, k))
        model = build_model(products, split.train, max(split.cutoff.values()), wide)
        return [
            [pick.product_id for pick in recommend(model, own, split.cutoff[user], wide)[:k]]
            for user, own in split.train.by_user(buyers)
        ]

    return rank


def _bought_by(split: Split, buyers: IntArray) -> dict[int, set[int]]:
    return {user: set(own.purchases.products.tolist()) for user, own in split.train.by_user(buyers)}


def popularity_ranker(
    products: Products, split: Split, buyers: IntArray, k: int
) -> list[list[int]]:
    """The most-bought available products of the training data, minus the buyer's own."""
    cols, known = products.locate(split.train.purchases.products)
    counts = np.bincount(cols[known], minlength=len(products))
    candidates = np.flatnonzero(products.available)
    ranked = products.ids[candidates[np.lexsort((products.ids[candidates], -counts[candidates]))]]
    bought = _bought_by(split, buyers)
    out: list[list[int]] = []
    for user in buyers.tolist():
        mine = bought[user]
        out.append([p for p in ranked[: k + len(mine)].tolist() if p not in mine][:k])
    return out


def _top(
    scores: FloatArray, products: Products, excluded: list[IntArray], k: int
) -> list[list[int]]:
    out: list[list[int]] = []
    scores = scores.copy()
    scores[:, ~products.available] = -np.inf
    for row, skip in enumerate(excluded):
        scores[row, skip] = -np.inf
        top = np.argpartition(-scores[row], min(k, len(products) - 1))[: k + 1]
        # Ties by product id, so runs repeat.
        top = top[np.lexsort((products.ids[top], -scores[row, top]))]
        out.append(products.ids[top[np.isfinite(scores[row, top])]][:k].tolist())
    return out


def library_rankers(candidate: library.Candidate, seed: int) -> Ranker:
    def rank(products: Products, split: Split, buyers: IntArray, k: int) -> list[list[int]]:
        data = library.interactions(products, split.train, split.cutoff, candidate.recency)
        scorer = library.fit(candidate, data, seed)
        bought = _bought_by(split, buyers)
        known = np.isin(buyers, data.users)
        out: list[list[int]] = []
        block = 256
        for start in range(0, len(buyers), block):
            users = buyers[start : start + block]
            rows = data.rows_of(users)
            scores = scorer(rows)
            # Buyers with no training behaviour get no personal scores: the library has
            # nothing to say, so they rank by nothing (an empty hit).
            scores[~known[start : start + block]] = 0.0
            excluded = [
                np.zeros(0, dtype=np.int64)
                if candidate.rebuy
                else products.index_of(np.asarray(sorted(bought[u]), dtype=np.int64))
                for u in users.tolist()
            ]
            out.extend(_top(scores, products, excluded, k))
        return out

    return rank


def _hit_rate(products: Products, split: Split, ranker: Ranker, k: int) -> float:
    buyers = _buyers(split)
    if len(buyers) == 0:
        return 0.0
    lists = ranker(products, split, buyers, k)
    held = [split.held_out[u] for u in buyers.tolist()]
    return float(score_lists(lists, held, k).hit.mean())


def tune(
    family: str, products: Products, train: Behaviour, k: int, seed: int
) -> tuple[library.Candidate, float]:
    """The family's best setting by hit-rate@k on the validation split of ``train``."""
    validation = hold_out_latest(train)
    matrices = {
        r: library.interactions(products, validation.train, validation.cutoff, r)
        for r in library.RECENCIES
    }
    best: tuple[library.Candidate, float] | None = None
    for base in library.candidates(family):
        if base.rebuy:
            continue  # scored below from the same fit
        data = matrices[base.recency]
        scorer = library.fit(base, data, seed)
        for rebuy in (False, True):
            candidate = replace(base, rebuy=rebuy)
            value = _hit_rate(products, validation, _fitted(candidate, scorer, data), k)
            if best is None or value > best[1]:
                best = (candidate, value)
    if best is None:
        raise ValueError(f"no setting for {family}")
    return best


def _fitted(
    candidate: library.Candidate, scorer: library.Scorer, data: library.Interactions
) -> Ranker:
    """A ranker from an already fitted model (tuning scores both re-buy choices on one fit)."""

    def rank(products: Products, split: Split, buyers: IntArray, k: int) -> list[list[int]]:
        bought = _bought_by(split, buyers)
        known = np.isin(buyers, data.users)
        scores = scorer(data.rows_of(buyers))
        scores[~known] = 0.0
        excluded = [
            np.zeros(0, dtype=np.int64)
            if candidate.rebuy
            else products.index_of(np.asarray(sorted(bought[u]), dtype=np.int64))
            for u in buyers.tolist()
        ]
        return _top(scores, products, excluded, k)

    return rank


@dataclass
class DatasetResult:
    """One dataset: per recommender, every buyer's scores; the library settings chosen."""

    buyers: int
    per_buyer: dict[str, PerBuyer]
    chosen: dict[str, str] = field(default_factory=dict)


def judge_dataset(
    products: Products,
    behaviour: Behaviour,
    *,
    k: int = 10,
    seed: int = 0,
    config: EngineConfig = DEFAULT_CONFIG,
    families: Sequence[str] = library.FAMILIES,
    extra: Mapping[str, Ranker] | None = None,
    phase: Callable[[str], None] | None = None,
) -> DatasetResult:
    def say(what: str) -> None:
        if phase is not None:
            phase(what)

    split = hold_out_latest(behaviour)
    buyers = _buyers(split)
    held = [split.held_out[u] for u in buyers.tolist()]
    rankers: dict[str, Ranker] = {ENGINE: engine_ranker(config), POPULARITY: popularity_ranker}
    chosen: dict[str, str] = {}
    for family in families:
        say(f"tuning {family} on the validation split")
        candidate, _ = tune(family, products, split.train, k, seed)
        chosen[family] = candidate.label
        rankers[family] = library_rankers(candidate, seed)
    rankers.update(extra or {})
    per_buyer: dict[str, PerBuyer] = {}
    for name, ranker in rankers.items():
        say(f"ranking with {name}")
        per_buyer[name] = score_lists(ranker(products, split, buyers, k), held, k)
    return DatasetResult(len(buyers), per_buyer, chosen)


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = float(np.mean(values)) if n else 0.0
    se = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return mean, se


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    hit: tuple[float, float]
    recall: tuple[float, float]
    ndcg: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Judgement:
    k: int
    seeds: tuple[int, ...]
    buyers: int
    rows: tuple[Row, ...]
    best_library: str
    # engine hit - best library model's hit, paired by buyer over every seed.
    paired_difference: tuple[float, float]
    # Per seed: each library model's setting, chosen on that seed's validation split.
    chosen: tuple[Mapping[str, str], ...] = ()

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    @property
    def lift(self) -> float:
        """Engine mean hit-rate over the best library model's."""
        best = self.row(self.best_library).hit[0]
        return self.row(ENGINE).hit[0] / best if best else float("inf")

    def table(self) -> str:
        k = self.k
        lines = [
            f"| recommender | hit-rate@{k} | recall@{k} | NDCG@{k} |",
            "| --- | --- | --- | --- |",
        ]
        for r in self.rows:
            cells = " | ".join(f"{m:.4f} ± {se:.4f}" for m, se in (r.hit, r.recall, r.ndcg))
            lines.append(f"| {r.name} | {cells} |")
        return "\n".join(lines)

    def settings(self) -> str:
        return "\n".join(
            f"seed {seed}, {family}: {label}"
            for seed, chosen in zip(self.seeds, self.chosen, strict=True)
            for family, label in chosen.items()
        )

    def summary(self) -> str:
        diff, se = self.paired_difference
        return (
            f"engine hit-rate@{self.k} is {self.lift:.2f}x the best library model's "
            f"({self.best_library}); paired by buyer the engine leads by {diff:+.4f} "
            f"± {se:.4f} (SE over {self.buyers} buyer-seeds, {diff / se if se else 0:.1f} SE)"
        )


def combine(results: Sequence[DatasetResult], seeds: Sequence[int], k: int) -> Judgement:
    names = list(results[0].per_buyer)
    rows = []
    for name in names:
        per_seed = [r.per_buyer[name] for r in results]
        rows.append(
            Row(
                name,
                _mean_se([float(p.hit.mean()) for p in per_seed]),
                _mean_se([float(p.recall.mean()) for p in per_seed]),
                _mean_se([float(p.ndcg.mean()) for p in per_seed]),
            )
        )
    families = [n for n in names if n in library.FAMILIES]
    best = max(families, key=lambda n: next(r.hit[0] for r in rows if r.name == n))
    diffs = np.concatenate([r.per_buyer[ENGINE].hit - r.per_buyer[best].hit for r in results])
    n = len(diffs)
    paired = (float(diffs.mean()), float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0)
    return Judgement(
        k=k,
        seeds=tuple(seeds),
        buyers=n,
        rows=tuple(rows),
        best_library=best,
        paired_difference=paired,
        chosen=tuple(r.chosen for r in results),
    )


# Seeds of the datasets judged: the 7, 11 and 13, then the next primes.
SEEDS = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
# Every judged dataset is anchored here, so a run repeats exactly whatever the date.
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)

ExtraRankers = Callable[[IntentLog], Mapping[str, Ranker]]


def _prefixed(phase: Callable[[str], None] | None, prefix: str) -> Callable[[str], None] | None:
    if phase is None:
        return None
    say = phase
    return lambda what: say(prefix + what)


async def judge_seeds(
    seeds: Sequence[int],
    *,
    users: int = 1000,
    orders_per_user: int = 50,
    k: int = 10,
    config: EngineConfig = DEFAULT_CONFIG,
    families: Sequence[str] = library.FAMILIES,
    extra: ExtraRankers | None = None,
    phase: Callable[[str], None] | None = None,
) -> Judgement:
    """Seeds a temporary SQLite database per seed, reads it back and judges it.

    The recommenders read the rows as the API wrote them (``data.load_everything``);
    the seed's hidden intent goes only to ``extra`` (a test-only oracle).
    """
    results: list[DatasetResult] = []
    for seed in seeds:
        if phase is not None:
            phase(f"seed {seed}: seeding {users} users")
        with tempfile.TemporaryDirectory(prefix="ordercenter-judge-") as folder:
            engine = create_engine(f"sqlite:///{Path(folder) / 'judge.db'}")
            try:
                await upgrade_async(engine)
                log = IntentLog()
                size = SeedSize(users=users, orders_per_user=orders_per_user)
                await seed_database(engine, size=size, rng_seed=seed, now=ANCHOR, intent_log=log)
                products, behaviour, _ = await load_everything(create_session_factory(engine))
            finally:
                await engine.dispose()
        results.append(
            judge_dataset(
                products,
                behaviour,
                k=k,
                seed=seed,
                config=config,
                families=families,
                extra=extra(log) if extra is not None else None,
                phase=_prefixed(phase, f"seed {seed}: "),
            )
        )
    return combine(results, seeds, k)
