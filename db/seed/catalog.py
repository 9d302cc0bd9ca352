"""People, shops and products: the static world the behaviour happens in."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

from db.seed.words import (
    CATEGORIES,
    CITIES,
    CLOSINGS,
    FIRST_NAMES,
    LAST_NAMES,
    SHOP_SUFFIXES,
    City,
)
from db.seed.writer import Row

T = TypeVar("T")

DAY = 86_400
CURRENCY = "USD"
DEMO_HANDLE = "demo"
OPERATOR_HANDLE = "operator"
DEMO_USER_ID = 1
OPERATOR_USER_ID = 2
# Everything in the catalog predates the oldest order (365 days), so every order
# item snapshots a product, shop and owner that already existed.
CATALOG_CUTOFF = 366 * DAY


class WeightedPool(Generic[T]):
    """Weighted random choice over a fixed list, O(log n) per pick."""

    __slots__ = ("_cum", "_items")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items:
            raise ValueError("a pool needs at least one item")
        self._items = list(items)
        self._cum = list(accumulate(weights))

    def pick(self, rng: Random) -> T:
        return rng.choices(self._items, cum_weights=self._cum, k=1)[0]

    @property
    def items(self) -> list[T]:
        return self._items


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What generation needs to know about a product, including hidden traits."""

    id: int
    shop_id: int
    category: str
    title: str
    price_minor: int
    # On sale and in stock: worth recommending today.
    available: bool
    # Popularity; never stored, only skews who buys what.
    weight: float
    # Videos that feature the product; items and tags cite one as their source.
    videos: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    handle: str
    display_name: str
    role: str
    created_at: datetime


@dataclass
class Catalog:
    users: list[Row]
    shops: list[Row]
    products: list[Row]
    people: list[Person]
    shop_owner: dict[int, int]
    shop_origin: dict[int, City]
    items: list[ProductInfo]
    by_category: dict[str, WeightedPool[ProductInfo]] = field(default_factory=dict)
    by_shop: dict[int, WeightedPool[ProductInfo]] = field(default_factory=dict)
    by_shop_category: dict[tuple[int, str], WeightedPool[ProductInfo]] = field(default_factory=dict)
    trending: WeightedPool[ProductInfo] | None = None

    @property
    def categories(self) -> list[str]:
        """Categories that have at least one product, in vocabulary order."""
        return [c for c in CATEGORIES if c in self.by_category]

    def product(self, product_id: int) -> ProductInfo:
        return self.items[product_id - 1]


def _ascii_slug(text: str, sep: str = "") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, plain.lower()).strip(sep)


class _UniqueHandles:
    def __init__(self, *taken: str) -> None:
        self._seen: dict[str, int] = dict.fromkeys(taken, 1)

    def claim(self, base: str) -> str:
        n = self._seen.get(base, 0) + 1
        self._seen[base] = n
        return base if n == 1 else f"{base}{n}"


def _ago(now: datetime, rng: Random, low_days: int, high_days: int) -> datetime:
    return now - timedelta(seconds=rng.randint(low_days * DAY, high_days * DAY))


def _build_people(rng: Random, users: int, sellers: int, now: datetime) -> list[Person]:
    handles = _UniqueHandles(DEMO_HANDLE, OPERATOR_HANDLE)
    seller_ids = set(rng.sample(range(OPERATOR_USER_ID + 1, users + 1), sellers))
    people = [
        Person(DEMO_USER_ID, DEMO_HANDLE, "Demo Shopper", "buyer", _ago(now, rng, 700, 720)),
        Person(
            OPERATOR_USER_ID,
            OPERATOR_HANDLE,
            "Order Center Operator",
            "operator",
            _ago(now, rng, 1_000, 1_100),
        ),
    ]
    for user_id in range(OPERATOR_USER_ID + 1, users + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = handles.claim(f"{_ascii_slug(first)}.{_ascii_slug(last)}")
        role = "seller" if user_id in seller_ids else "buyer"
        # Sellers opened shops before the catalog cutoff, so they joined earlier.
        low, high = (800, 1_100) if role == "seller" else (380, 1_100)
        people.append(Person(user_id, handle, f"{first} {last}", role, _ago(now, rng, low, high)))
    return people


def _shop_categories(index: int, order: Sequence[str]) -> tuple[str, str, str]:
    """A primary and two secondary categories; five shops already cover all twelve."""
    n = len(order)
    primary = order[index % n]
    secondary: list[str] = []
    k = 5 + 2 * index
    while len(secondary) < 2:
        candidate = order[k % n]
        if candidate != primary and candidate not in secondary:
            secondary.append(candidate)
        k += 1
    return primary, secondary[0], secondary[1]


def _price(rng: Random, low: int, high: int) -> int:
    raw = math.exp(rng.uniform(math.log(low), math.log(high)))
    # Whole dollars minus a cent, like real price tags.
    return max(low, min(high, round(raw / 100) * 100 - 1))


def _stock(rng: Random) -> int:
    if rng.random() < 0.08:
        return 0
    return min(500, 1 + int(rng.expovariate(1 / 60)))


def build_catalog(
    rng: Random, *, users: int, shops: int, products_per_shop: int, now: datetime
) -> Catalog:
    sellers = min(shops, users - 2)
    people = _build_people(rng, users, sellers, now)
    seller_people = [p for p in people if p.role == "seller"]

    shop_rows: list[Row] = []
    product_rows: list[Row] = []
    infos: list[ProductInfo] = []
    shop_owner: dict[int, int] = {}
    shop_origin: dict[int, City] = {}
    shop_handles = _UniqueHandles()
    category_order = rng.sample(list(CATEGORIES), len(CATEGORIES))
    even_split = shops < len(CATEGORIES)

    for index in range(shops):
        shop_id = index + 1
        owner = seller_people[index % len(seller_people)]
        cats = _shop_categories(index, category_order)
        name = f"{rng.choice(CATEGORIES[cats[0]].shop_words)} {rng.choice(SHOP_SUFFIXES)}"
        shop_created = owner.created_at + timedelta(seconds=rng.randint(DAY, 10 * DAY))
        shop_rows.append(
            {
                "id": shop_id,
                "owner_id": owner.id,
                "handle": shop_handles.claim(_ascii_slug(name)),
                "name": name,
                "created_at": shop_created,
            }
        )
        shop_owner[shop_id] = owner.id
        shop_origin[shop_id] = rng.choice(CITIES)
        videos = [f"vid_{rng.getrandbits(32):08x}" for _ in range(max(3, products_per_shop // 3))]
        catalog_window = int((now - shop_created).total_seconds()) - CATALOG_CUTOFF
        for slot in range(products_per_shop):
            # By slot rather than by chance, so every category is stocked. Few shops
            # split evenly, or most categories would have a handful of products.
            if even_split:
                category = cats[slot % 3]
            else:
                category = cats[0] if slot % 5 < 3 else cats[1] if slot % 5 == 3 else cats[2]
            words = CATEGORIES[category]
            product_id = len(infos) + 1
            title = words.pattern.format(
                adj=rng.choice(words.adjectives),
                qual=rng.choice(words.qualifiers),
                noun=rng.choice(words.nouns),
            )
            blurb_a, blurb_b = rng.sample(words.blurbs, 2)
            price = _price(rng, *words.price_range)
            stock = _stock(rng)
            on_sale = rng.random() >= 0.04
            created = shop_created + timedelta(seconds=rng.randint(3_600, catalog_window))
            product_rows.append(
                {
                    "id": product_id,
                    "shop_id": shop_id,
                    "title": title,
                    "description": f"{title}. {blurb_a} {blurb_b} {rng.choice(CLOSINGS)}",
                    "category": category,
                    "image_url": f"https://picsum.photos/seed/p{product_id}/400",
                    "price_minor": price,
                    "currency": CURRENCY,
                    "stock": stock,
                    "on_sale": on_sale,
                    "created_at": created,
                }
            )
            infos.append(
                ProductInfo(
                    id=product_id,
                    shop_id=shop_id,
                    category=category,
                    title=title,
                    price_minor=price,
                    available=on_sale and stock > 0,
                    weight=min(40.0, rng.paretovariate(1.4)),
                    videos=tuple(rng.sample(videos, rng.randint(1, 3))),
                )
            )

    catalog = Catalog(
        users=[
            {
                "id": p.id,
                "handle": p.handle,
                "display_name": p.display_name,
                "role": p.role,
                "created_at": p.created_at,
            }
            for p in people
        ],
        shops=shop_rows,
        products=product_rows,
        people=people,
        shop_owner=shop_owner,
        shop_origin=shop_origin,
        items=infos,
    )
    _index(catalog)
    return catalog


def _pool(products: list[ProductInfo]) -> WeightedPool[ProductInfo]:
    return WeightedPool(products, [p.weight for p in products])


def _index(catalog: Catalog) -> None:
    grouped: dict[str, list[ProductInfo]] = {}
    by_shop: dict[int, list[ProductInfo]] = {}
    by_shop_category: dict[tuple[int, str], list[ProductInfo]] = {}
    for info in catalog.items:
        grouped.setdefault(info.category, []).append(info)
        by_shop.setdefault(info.shop_id, []).append(info)
        by_shop_category.setdefault((info.shop_id, info.category), []).append(info)
    catalog.by_category = {c: _pool(grouped[c]) for c in CATEGORIES if c in grouped}
    catalog.by_shop = {k: _pool(v) for k, v in by_shop.items()}
    catalog.by_shop_category = {k: _pool(v) for k, v in by_shop_category.items()}
    available = [p for p in catalog.items if p.available]
    catalog.trending = _pool(available or catalog.items)
