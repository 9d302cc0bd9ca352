"""An oracle that ranks by the seed's own hidden process; test-only, never the engine's.

It knows what the API never stores: the intent behind each held-out order (the video
journey, the re-buy or the whim that produced it; ``db.seed.intent.IntentLog``) and
the buyer's hidden tastes. It ranks products by the probability that the order's first
product is drawn from them, then fills from the shop the intent points at (baskets
stay in one shop), by the seed's popularity weight. The same exclusions as everyone:
products unavailable today.

Run as a script it prints the full table with the oracle (the README's figures):

    .venv/bin/python -m tests.recommendations.oracle --seeds 5
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Mapping

import numpy as np

from db.seed.intent import IntentLog
from resolvers.recommendations.engine import IntArray, Products
from resolvers.recommendations.evaluate import Split
from resolvers.recommendations.judge import SEEDS, Judgement, Ranker, judge_seeds

ORACLE = "oracle (hidden process)"


def oracle_ranker(
    log: IntentLog, weights: Mapping[int, float], categories: Mapping[int, str]
) -> Ranker:
    """Ranks each buyer's products by the hidden process behind the held-out order."""

    def rank(products: Products, split: Split, buyers: IntArray, k: int) -> list[list[int]]:
        ids = products.ids.tolist()
        available = products.available
        shop_of = dict(zip(ids, products.shops.tolist(), strict=True))
        out: list[list[int]] = []
        for user in buyers.tolist():
            intent = log.orders[split.held_order[user]]
            score = np.zeros(len(ids))
            if intent.kind == "whim":
                favourites, others = log.tastes[user]
                share: dict[str, float] = {}
                for pool, mass in ((favourites, 0.7), (others, 0.3)):
                    for category in pool:
                        share[category] = share.get(category, 0.0) + mass / len(pool)
                totals: dict[str, float] = {}
                for pid in ids:
                    c = categories[pid]
                    totals[c] = totals.get(c, 0.0) + weights[pid]
                for i, pid in enumerate(ids):
                    c = categories[pid]
                    score[i] = share.get(c, 0.0) * weights[pid] / totals[c]
            else:
                shops = {shop_of[p] for p in intent.first}
                if intent.shop_id is not None:
                    shops.add(intent.shop_id)
                top = max(weights.values())
                for i, pid in enumerate(ids):
                    # The first product's law first; the rest of the basket is from its shop.
                    score[i] = intent.first.get(pid, 0.0) + (
                        1e-3 * weights[pid] / top if shop_of[pid] in shops else 0.0
                    )
            score[~available] = -1.0
            order = np.lexsort((products.ids, -score))[:k]
            out.append([ids[i] for i in order.tolist()])
        return out

    return rank


def _oracle_for(log: IntentLog) -> Mapping[str, Ranker]:
    return {ORACLE: oracle_ranker(log, log.product_weights, log.product_categories)}


async def judge_with_oracle(
    seeds: tuple[int, ...], users: int, families: tuple[str, ...] | None = None
) -> Judgement:
    from resolvers.recommendations import library

    return await judge_seeds(
        seeds,
        users=users,
        families=families if families is not None else library.FAMILIES,
        extra=_oracle_for,
        phase=lambda what: logging.getLogger("oracle").info(what),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    judgement = asyncio.run(judge_with_oracle(SEEDS[: args.seeds], args.users))
    oracle = judgement.row(ORACLE).hit[0]
    engine = judgement.row("engine").hit[0]
    sys.stdout.write(judgement.table() + "\n" + judgement.summary() + "\n")
    sys.stdout.write(f"engine hit-rate@{judgement.k} is {engine / oracle:.2f}x the oracle's\n")


if __name__ == "__main__":
    main()
