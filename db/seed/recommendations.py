"""Placeholder recommendations so the demo has something to show before a real engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from random import Random

from db.seed.behaviour import Buyer
from db.seed.catalog import DAY, DEMO_USER_ID, Catalog, ProductInfo, WeightedPool
from db.seed.writer import Row

BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
SIMILAR_TO_TAGGED = "SIMILAR_TO_TAGGED"
SIMILAR_TO_VIEWED = "SIMILAR_TO_VIEWED"
TRENDING = "TRENDING"
_REASON_WEIGHTS = {BOUGHT_TOGETHER: 30, SIMILAR_TO_TAGGED: 25, SIMILAR_TO_VIEWED: 25, TRENDING: 20}


def _by_user(rows: Sequence[Row]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for row in rows:
        grouped.setdefault(row["user_id"], []).append(row["product_id"])
    return grouped


def build_recommendations(
    rng: Random,
    catalog: Catalog,
    buyers: Sequence[Buyer],
    bought: dict[int, set[int]],
    tags: Sequence[Row],
    views: Sequence[Row],
    now: datetime,
) -> list[Row]:
    tagged = _by_user(tags)
    viewed = _by_user(views)
    trending = catalog.trending
    if trending is None:
        return []
    rows: list[Row] = []
    for buyer in buyers:
        owned = bought.get(buyer.user_id, set())
        sources = {
            BOUGHT_TOGETHER: sorted(owned),
            SIMILAR_TO_TAGGED: tagged.get(buyer.user_id, []),
            SIMILAR_TO_VIEWED: viewed.get(buyer.user_id, []),
        }
        reasons = [r for r in _REASON_WEIGHTS if r == TRENDING or sources[r]]
        weights = [_REASON_WEIGHTS[r] for r in reasons]
        wanted = 20 if buyer.user_id == DEMO_USER_ID else rng.randint(10, 20)
        chosen: set[int] = set()
        for _ in range(wanted * 15):
            if len(chosen) >= wanted:
                break
            reason = rng.choices(reasons, weights, k=1)[0]
            base: ProductInfo | None = None
            pool: WeightedPool[ProductInfo] = trending
            if reason != TRENDING:
                base = catalog.product(rng.choice(sources[reason]))
                pool = (
                    catalog.by_shop[base.shop_id]
                    if reason == BOUGHT_TOGETHER
                    else catalog.by_category[base.category]
                )
            candidate = pool.pick(rng)
            if (
                not candidate.available
                or candidate.id in owned
                or candidate.id in chosen
                or candidate.shop_id in buyer.own_shops
                or (base is not None and candidate.id == base.id)
            ):
                continue
            chosen.add(candidate.id)
            # Trending is a weak, untargeted guess; the personal reasons score higher.
            low, high = (0.15, 0.6) if reason == TRENDING else (0.35, 0.99)
            rows.append(
                {
                    "id": len(rows) + 1,
                    "user_id": buyer.user_id,
                    "product_id": candidate.id,
                    "score": round(rng.uniform(low, high), 4),
                    "reason": reason,
                    "based_on_product_id": None if base is None else base.id,
                    "dismissed": buyer.user_id != DEMO_USER_ID and rng.random() < 0.05,
                    "created_at": now - timedelta(seconds=rng.randint(60, 2 * DAY)),
                }
            )
    return rows
