"""Judging the engine: the metrics, the library models, and who may import them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from resolvers.recommendations import library
from resolvers.recommendations.judge import (
    ENGINE,
    POPULARITY,
    DatasetResult,
    PerBuyer,
    combine,
    judge_seeds,
    score_lists,
)


def test_metrics_by_hand() -> None:
    held = [frozenset({5}), frozenset({1, 2}), frozenset({9})]
    lists = [[5, 6, 7], [3, 2, 4], [1, 2, 3]]
    scores = score_lists(lists, held, k=3)
    assert scores.hit.tolist() == [1.0, 1.0, 0.0]
    assert scores.recall.tolist() == [1.0, 0.5, 0.0]
    # Found first: 1. Found second of two wanted: (1/log2 3) / (1 + 1/log2 3).
    second = 1 / np.log2(3)
    assert scores.ndcg.tolist() == pytest.approx([1.0, second / (1 + second), 0.0])
    # Only the top k count.
    assert score_lists([[7, 5]], [frozenset({5})], k=1).hit.tolist() == [0.0]


def test_means_standard_errors_and_the_buyer_paired_difference() -> None:
    def result(engine: list[float], als: list[float]) -> DatasetResult:
        def per(values: list[float]) -> PerBuyer:
            a = np.asarray(values)
            return PerBuyer(a, a, a)

        zeros = [0.0] * len(engine)
        return DatasetResult(
            len(engine), {ENGINE: per(engine), POPULARITY: per(zeros), "ALS": per(als)}
        )

    judgement = combine(
        [result([1, 1, 0, 0], [1, 0, 0, 0]), result([1, 1, 1, 0], [0, 1, 0, 0])], [7, 11], 10
    )
    engine = judgement.row(ENGINE)
    assert engine.hit == pytest.approx((0.625, 0.125))  # seed means 0.5 and 0.75
    assert judgement.best_library == "ALS"
    diffs = np.array([0, 1, 0, 0, 1, 0, 1, 0], dtype=float)
    assert judgement.paired_difference == pytest.approx(
        (diffs.mean(), diffs.std(ddof=1) / np.sqrt(8))
    )
    assert judgement.lift == pytest.approx(0.625 / 0.25)


async def test_every_model_is_judged_on_a_small_seed() -> None:
    judgement = await judge_seeds((7,), users=30, orders_per_user=12)
    names = [row.name for row in judgement.rows]
    assert names == [ENGINE, POPULARITY, *library.FAMILIES]
    assert judgement.buyers == 29  # everyone but the operator buys
    for row in judgement.rows:
        for mean, se in (row.hit, row.recall, row.ndcg):
            assert 0.0 <= mean <= 1.0
            assert se == 0.0  # one seed: no spread to report
    assert set(judgement.chosen[0]) == set(library.FAMILIES)
    assert "± 0.0000" in judgement.table()


def test_neither_the_api_nor_the_worker_imports_the_library() -> None:
    code = (
        "import sys, app.main, app.worker, app.cli, resolvers.recommendations.batch, "
        "resolvers.recommendations.refresher; print('implicit' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
