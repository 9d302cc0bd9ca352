"""Who buys what: hidden buyer tastes, their cards and addresses, tags and views.

Each buyer secretly favours two or three categories and lets them drive about 70%
of purchases, tags and views. The tastes are never stored, so a recommender has a
real signal to discover rather than a label to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from db.seed.catalog import DAY, DEMO_USER_ID, Catalog, Person, ProductInfo
from db.seed.words import CITIES, STREET_SUFFIXES, STREETS, City
from db.seed.writer import Row

FAVOURITE_SHARE = 0.7


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line1: str
    line2: str | None
    city: City
    postal_code: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    label: str


@dataclass(frozen=True, slots=True)
class Buyer:
    user_id: int
    favourites: tuple[str, ...]
    others: tuple[str, ...]
    addresses: tuple[Address, ...]
    cards: tuple[Card, ...]
    default_card: Card
    own_shops: frozenset[int]


def _address(rng: Random, name: str) -> Address:
    city = rng.choice(CITIES)
    line2 = None
    if rng.random() < 0.3:
        line2 = f"Apt {rng.randint(1, 30)}{rng.choice('ABCDEF')}"
    phone = None
    if rng.random() < 0.8:
        # 555-01xx numbers are reserved for fiction.
        phone = f"+1 {city.area_code} 555 01{rng.randint(0, 99):02d}"
    return Address(
        name=name,
        line1=f"{rng.randint(10, 9_899)} {rng.choice(STREETS)} {rng.choice(STREET_SUFFIXES)}",
        line2=line2,
        city=city,
        postal_code=f"{city.postal_prefix}{rng.randint(0, 99):02d}",
        phone=phone,
    )


_BRANDS = ("visa", "mastercard", "amex")
_BRAND_WEIGHTS = (55, 35, 10)
_BRAND_LABELS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "Amex"}


def _cards(
    rng: Random, person: Person, first_id: int, count: int, now: datetime
) -> tuple[list[Row], list[Card], int]:
    default_index = rng.randrange(count)
    rows: list[Row] = []
    cards: list[Card] = []
    for i in range(count):
        brand = rng.choices(_BRANDS, weights=_BRAND_WEIGHTS, k=1)[0]
        last4 = f"{rng.randrange(10_000):04d}"
        # The default card is always valid; an old spare card is sometimes expired.
        expired = i != default_index and rng.random() < 0.15
        exp_year = now.year - 1 if expired else now.year + rng.randint(1, 5)
        card_id = first_id + i
        rows.append(
            {
                "id": card_id,
                "user_id": person.id,
                "brand": brand,
                "last4": last4,
                "exp_month": rng.randint(1, 12),
                "exp_year": exp_year,
                "processor_token": f"tok_sandbox_{rng.getrandbits(96):024x}",
                "is_default": i == default_index,
                "created_at": person.created_at + timedelta(seconds=rng.randint(0, 10 * DAY)),
                "removed_at": None,
            }
        )
        cards.append(Card(card_id, f"{_BRAND_LABELS[brand]} ending {last4}"))
    return rows, cards, default_index


def build_buyers(rng: Random, catalog: Catalog, now: datetime) -> tuple[list[Buyer], list[Row]]:
    """Everyone but the operator shops; returns their profiles and saved cards."""
    categories = catalog.categories
    owned: dict[int, set[int]] = {}
    for shop_id, owner_id in catalog.shop_owner.items():
        owned.setdefault(owner_id, set()).add(shop_id)
    buyers: list[Buyer] = []
    card_rows: list[Row] = []
    for person in catalog.people:
        if person.role == "operator":
            continue
        favourite_count = min(len(categories), rng.choice((2, 2, 3)))
        favourites = tuple(rng.sample(categories, favourite_count))
        others = tuple(c for c in categories if c not in favourites) or favourites
        home = _address(rng, person.display_name)
        addresses = (home, _address(rng, person.display_name)) if rng.random() < 0.3 else (home,)
        count = 3 if person.id == DEMO_USER_ID else rng.choices((1, 2, 3), (50, 35, 15), k=1)[0]
        rows, cards, default_index = _cards(rng, person, len(card_rows) + 1, count, now)
        card_rows.extend(rows)
        buyers.append(
            Buyer(
                user_id=person.id,
                favourites=favourites,
                others=others,
                addresses=addresses,
                cards=tuple(cards),
                default_card=cards[default_index],
                own_shops=frozenset(owned.get(person.id, ())),
            )
        )
    return buyers, card_rows


def pick_category(rng: Random, buyer: Buyer) -> str:
    pool = buyer.favourites if rng.random() < FAVOURITE_SHARE else buyer.others
    return rng.choice(pool)


def pick_product(rng: Random, catalog: Catalog, buyer: Buyer) -> ProductInfo:
    """A product in a category the buyer's taste picks, skewed to popular ones."""
    product = catalog.by_category[pick_category(rng, buyer)].pick(rng)
    # Sellers rarely buy from themselves; a few retries keep that rare, not impossible.
    for _ in range(4):
        if product.shop_id not in buyer.own_shops:
            break
        product = catalog.by_category[pick_category(rng, buyer)].pick(rng)
    return product


def _distinct_products(
    rng: Random, catalog: Catalog, buyer: Buyer, wanted: int
) -> list[ProductInfo]:
    wanted = min(wanted, len(catalog.items))
    chosen: dict[int, ProductInfo] = {}
    for _ in range(wanted * 20):
        if len(chosen) >= wanted:
            break
        pool = catalog.by_category[pick_category(rng, buyer)]
        product = pool.pick(rng)
        if product.id in chosen or product.shop_id in buyer.own_shops:
            # Redrawing the category instead would let the many "other" categories
            # win every collision and wash the taste out of small catalogs.
            free = [
                p for p in pool.items if p.id not in chosen and p.shop_id not in buyer.own_shops
            ]
            if not free:
                continue
            product = rng.choice(free)
        chosen[product.id] = product
    return list(chosen.values())


def build_tags(rng: Random, catalog: Catalog, buyers: list[Buyer], now: datetime) -> list[Row]:
    rows: list[Row] = []
    for buyer in buyers:
        wanted = 30 if buyer.user_id == DEMO_USER_ID else rng.randint(5, 30)
        for product in _distinct_products(rng, catalog, buyer, wanted):
            video = rng.choice(product.videos) if rng.random() < 0.85 else None
            rows.append(
                {
                    "id": len(rows) + 1,
                    "user_id": buyer.user_id,
                    "product_id": product.id,
                    "source_video_id": video,
                    "tagged_at": now - timedelta(seconds=rng.randint(3_600, 180 * DAY)),
                }
            )
    return rows


def build_views(rng: Random, catalog: Catalog, buyers: list[Buyer], now: datetime) -> list[Row]:
    rows: list[Row] = []
    for buyer in buyers:
        wanted = 80 if buyer.user_id == DEMO_USER_ID else rng.randint(20, 80)
        for product in _distinct_products(rng, catalog, buyer, wanted):
            rows.append(
                {
                    "id": len(rows) + 1,
                    "user_id": buyer.user_id,
                    "product_id": product.id,
                    "view_count": min(25, 1 + int(rng.expovariate(0.4))),
                    "viewed_at": now - timedelta(seconds=rng.randint(60, 60 * DAY)),
                }
            )
    return rows
