"""Why a buyer places each order: the intent behind the seed's purchases.

In the app, buyers watch creators' videos, view and tag what the videos feature, then
buy some of it; they re-buy consumables; now and then they buy on a whim. Each order's
first product comes from one of these (probabilities in the README, "Recommendations"):

- **re-buy** (``P_REBUY``, once the buyer owns a consumable): a consumable bought
  before, the longer ago (relative to ``REBUY_CYCLE_DAYS``) the likelier;
- **video journey** (``P_JOURNEY`` of the rest): a video of a followed creator
  (``P_FOLLOWED``) or of a shop of the buyer's taste; the buyer views 2-4 of the
  products it features in the days before the order, tags each with ``P_TAG``, and
  buys one of them, a tagged one ``TAGGED_PULL`` times likelier;
- **whim** (the rest): a product of the buyer's taste (``behaviour.pick_product``).

The views and tags of journeys are written like any other (merged with the background
browsing of ``behaviour``); which creators a buyer follows, which products are
consumables and which journey led to which order are never stored. ``IntentLog`` keeps
them for a test-only oracle, never for the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random

from db.seed.behaviour import Buyer, pick_product
from db.seed.catalog import DAY, Catalog, ProductInfo
from db.seed.writer import Row

CONSUMABLE_CATEGORIES = frozenset({"beauty", "pets", "snacks"})
P_REBUY = 0.3
REBUY_CYCLE_DAYS = 30.0
P_JOURNEY = 0.75
P_FOLLOWED = 0.7
FOLLOWS = (2, 5)  # creators followed per buyer, inclusive
VIEWED_PER_JOURNEY = (2, 4)
P_TAG = 0.4
TAGGED_PULL = 3.0
# The journey starts this long before the order: exponential, capped.
JOURNEY_LEAD_MEAN_DAYS = 1.5
JOURNEY_LEAD_MAX_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """The hidden reason for one order and the distribution its first product came from."""

    kind: str  # "rebuy" | "journey" | "whim"
    first: dict[int, float]  # product id -> probability
    shop_id: int | None  # the creator of a journey


@dataclass
class IntentLog:
    """Hidden state, for the oracle only: per order id, what drove it."""

    orders: dict[int, OrderIntent] = field(default_factory=dict)
    follows: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Per buyer: (favourite categories, the others), as ``behaviour.pick_category`` draws.
    tastes: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    # Per product: its hidden popularity weight, and its category.
    product_weights: dict[int, float] = field(default_factory=dict)
    product_categories: dict[int, str] = field(default_factory=dict)


def _shop_categories(catalog: Catalog) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for product in catalog.items:
        out.setdefault(product.shop_id, set()).add(product.category)
    return out


class Intentions:
    """Draws each order's first product by intent and records the journeys' views and tags."""

    def __init__(
        self, rng: Random, catalog: Catalog, buyers: list[Buyer], log: IntentLog | None = None
    ) -> None:
        self._rng = rng
        self._catalog = catalog
        self._log = log
        self._videos: dict[str, list[ProductInfo]] = {}
        for product in catalog.items:
            for video in product.videos:
                self._videos.setdefault(video, []).append(product)
        self._shop_videos: dict[int, list[str]] = {}
        for video, featured in sorted(self._videos.items()):
            self._shop_videos.setdefault(featured[0].shop_id, []).append(video)
        categories = _shop_categories(catalog)
        self._follows: dict[int, tuple[int, ...]] = {}
        for buyer in buyers:
            self._follows[buyer.user_id] = self._pick_follows(buyer, categories)
        if log is not None:
            log.follows = dict(self._follows)
            log.tastes = {b.user_id: (b.favourites, b.others) for b in buyers}
            log.product_weights = {p.id: p.weight for p in catalog.items}
            log.product_categories = {p.id: p.category for p in catalog.items}
        # Consumables each buyer owns, and when they last bought each.
        self._last_bought: dict[int, dict[int, datetime]] = {}
        self._views: dict[tuple[int, int], tuple[int, datetime]] = {}
        self._tags: dict[tuple[int, int], tuple[datetime, str]] = {}

    def _pick_follows(self, buyer: Buyer, categories: dict[int, set[str]]) -> tuple[int, ...]:
        rng = self._rng
        shops = sorted(s for s in self._shop_videos if s not in buyer.own_shops)
        if not shops:
            return ()
        # Creators of the buyer's taste are far likelier to be followed.
        weights = [1.0 + 6.0 * len(categories[s] & set(buyer.favourites)) for s in shops]
        wanted = min(len(shops), rng.randint(*FOLLOWS))
        chosen: list[int] = []
        while len(chosen) < wanted:
            shop = rng.choices(shops, weights, k=1)[0]
            if shop not in chosen:
                chosen.append(shop)
        return tuple(chosen)

    def first_product(self, buyer: Buyer, order_id: int, placed_at: datetime) -> ProductInfo:
        rng = self._rng
        owned = self._last_bought.get(buyer.user_id, {})
        if owned and rng.random() < P_REBUY:
            product, intent = self._rebuy(owned, placed_at)
        elif rng.random() < P_JOURNEY:
            product, intent = self._journey(buyer, placed_at)
        else:
            product = pick_product(rng, self._catalog, buyer)
            intent = OrderIntent("whim", {}, None)
        if self._log is not None:
            self._log.orders[order_id] = intent
        return product

    def bought(self, buyer: Buyer, products: list[ProductInfo], placed_at: datetime) -> None:
        """Every product of an order, so consumables can be re-bought later."""
        owned = self._last_bought.setdefault(buyer.user_id, {})
        for product in products:
            if product.category in CONSUMABLE_CATEGORIES:
                owned[product.id] = placed_at

    def _rebuy(
        self, owned: dict[int, datetime], placed_at: datetime
    ) -> tuple[ProductInfo, OrderIntent]:
        ids = sorted(owned)
        # Due when a cycle has passed; bought yesterday is unlikely, but not impossible.
        weights = [
            0.1 + min(3.0, (placed_at - owned[i]).total_seconds() / DAY / REBUY_CYCLE_DAYS)
            for i in ids
        ]
        chosen = self._rng.choices(ids, weights, k=1)[0]
        total = sum(weights)
        intent = OrderIntent(
            "rebuy", {i: w / total for i, w in zip(ids, weights, strict=True)}, None
        )
        return self._catalog.product(chosen), intent

    def _journey(self, buyer: Buyer, placed_at: datetime) -> tuple[ProductInfo, OrderIntent]:
        rng = self._rng
        follows = self._follows.get(buyer.user_id, ())
        if follows and rng.random() < P_FOLLOWED:
            shop = rng.choice(follows)
        else:
            shop = pick_product(rng, self._catalog, buyer).shop_id
        video = rng.choice(self._shop_videos[shop])
        featured = self._videos[video]
        wanted = min(len(featured), rng.randint(*VIEWED_PER_JOURNEY))
        viewed: list[ProductInfo] = []
        weights = [p.weight for p in featured]
        while len(viewed) < wanted:
            product = rng.choices(featured, weights, k=1)[0]
            if product not in viewed:
                viewed.append(product)
        lead = min(JOURNEY_LEAD_MAX_DAYS, rng.expovariate(1 / JOURNEY_LEAD_MEAN_DAYS))
        started = placed_at - timedelta(seconds=max(600, int(lead * DAY)))
        pull: dict[int, float] = {}
        for step, product in enumerate(viewed):
            at = started + timedelta(seconds=step * rng.randint(30, 900))
            self._view(buyer.user_id, product.id, at, 1 + int(rng.expovariate(0.7)))
            tagged = rng.random() < P_TAG
            if tagged:
                self._tag(buyer.user_id, product.id, at + timedelta(seconds=20), video)
            pull[product.id] = TAGGED_PULL if tagged else 1.0
        ids = list(pull)
        chosen = rng.choices(ids, [pull[i] for i in ids], k=1)[0]
        total = sum(pull.values())
        intent = OrderIntent("journey", {i: w / total for i, w in pull.items()}, shop)
        return self._catalog.product(chosen), intent

    def _view(self, user_id: int, product_id: int, at: datetime, count: int) -> None:
        before = self._views.get((user_id, product_id))
        if before is not None:
            count, at = before[0] + count, max(before[1], at)
        self._views[(user_id, product_id)] = (count, at)

    def _tag(self, user_id: int, product_id: int, at: datetime, video: str) -> None:
        # A tag stays until removed: the first one is the one on record.
        self._tags.setdefault((user_id, product_id), (at, video))

    def merge_views(self, background: list[Row]) -> list[Row]:
        """Background browsing plus the journeys' views: one row per (user, product)."""
        merged: dict[tuple[int, int], tuple[int, datetime]] = {}
        for row in background:
            merged[(row["user_id"], row["product_id"])] = (row["view_count"], row["viewed_at"])
        for key, (count, at) in self._views.items():
            before = merged.get(key)
            if before is not None:
                count, at = min(25, before[0] + count), max(before[1], at)
            merged[key] = (count, at)
        return [
            {"id": i, "user_id": u, "product_id": p, "view_count": c, "viewed_at": at}
            for i, ((u, p), (c, at)) in enumerate(sorted(merged.items()), start=1)
        ]

    def merge_tags(self, background: list[Row]) -> list[Row]:
        """Background tags plus the journeys' tags: one row per (user, product), earliest kept."""
        merged: dict[tuple[int, int], tuple[datetime, str | None]] = {}
        for row in background:
            merged[(row["user_id"], row["product_id"])] = (row["tagged_at"], row["source_video_id"])
        for key, (at, video) in self._tags.items():
            before = merged.get(key)
            if before is None or at < before[0]:
                merged[key] = (at, video)
        return [
            {"id": i, "user_id": u, "product_id": p, "source_video_id": v, "tagged_at": at}
            for i, ((u, p), (at, v)) in enumerate(sorted(merged.items()), start=1)
        ]
