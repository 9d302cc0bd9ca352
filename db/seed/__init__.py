"""Deterministic demo data: a catalog, shoppers with hidden tastes, and a year of orders.

The same ``rng_seed``, ``now`` and ``size`` always produce identical rows, so a demo,
a benchmark or a bug report can be reproduced exactly. Everything is generated in
Python with ids assigned up front and bulk-inserted in one transaction: a failed
seed leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random

from sqlalchemy.ext.asyncio import AsyncEngine

from db.seed.behaviour import build_buyers, build_tags, build_views
from db.seed.catalog import DEMO_HANDLE, build_catalog
from db.seed.intent import Intentions, IntentLog
from db.seed.orders import OrderBuilder, allocate, plan_orders
from db.seed.recommendations import build_recommendations
from db.seed.reviews import build_reviews
from db.seed.webhooks import record_webhook_scans
from db.seed.writer import (
    BulkWriter,
    DatabaseNotEmpty,
    fix_sequences,
    guard_or_reset,
    number_events_in_time_order,
)

__all__ = ["DatabaseNotEmpty", "IntentLog", "SeedReport", "SeedSize", "seed_database"]

# Orders buffered before a flush: bounds memory at 50k orders and paces progress.
_ORDERS_PER_FLUSH = 2_500
# ...and at least this many flushes, so the demo's 2,500 orders still move the bar.
_MIN_FLUSHES = 20


@dataclass(frozen=True)
class SeedSize:
    users: int = 50
    # An average: real shoppers vary, so per-user counts are drawn around it.
    orders_per_user: int = 50
    # None derives about one shop per 20 users, at least 5.
    shops: int | None = None
    products_per_shop: int = 40

    def __post_init__(self) -> None:
        if self.users < 3:
            raise ValueError("users must be at least 3: the demo buyer, the operator, a seller")
        if self.orders_per_user < 0:
            raise ValueError("orders_per_user cannot be negative")
        if self.shops is not None and self.shops < 1:
            raise ValueError("shops must be at least 1")
        if self.products_per_shop < 1:
            raise ValueError("products_per_shop must be at least 1")

    @property
    def shop_count(self) -> int:
        return self.shops if self.shops is not None else max(5, round(self.users / 20))


@dataclass(frozen=True)
class SeedReport:
    users: int
    shops: int
    products: int
    orders: int
    order_items: int
    order_events: int
    payments: int
    shipments: int
    tagged_items: int
    product_views: int
    demo_handle: str
    payment_methods: int = 0
    shipment_events: int = 0
    recommendations: int = 0
    reviews: int = 0


def _anchor(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime; naive ones are ambiguous")
    return now.astimezone(UTC)


async def seed_database(
    engine: AsyncEngine,
    *,
    size: SeedSize = SeedSize(),
    rng_seed: int = 7,
    reset: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    now: datetime | None = None,
    intent_log: IntentLog | None = None,
) -> SeedReport:
    """Fill an empty, migrated database with demo data and report what went in.

    Raises DatabaseNotEmpty when ``users`` has rows, unless ``reset`` wipes every
    table first. ``now`` anchors every timestamp (default: this hour, in UTC);
    ``progress(stage, done, total)`` is called as chunks land. ``intent_log``, when
    given, receives the hidden intent behind every order (for a test-only oracle).
    """
    anchor = _anchor(now)
    rng = Random(rng_seed)
    async with engine.begin() as conn:
        await guard_or_reset(conn, reset=reset)
        writer = BulkWriter(conn, progress)

        catalog = build_catalog(
            rng,
            users=size.users,
            shops=size.shop_count,
            products_per_shop=size.products_per_shop,
            now=anchor,
        )
        buyers, cards = build_buyers(rng, catalog, anchor)
        await writer.insert("users", catalog.users)
        await writer.insert("shops", catalog.shops)
        await writer.insert("products", catalog.products)
        await writer.insert("payment_methods", cards)

        counts = allocate(rng, buyers, size.users * size.orders_per_user, size.orders_per_user)
        drafts = plan_orders(rng, buyers, counts, anchor)
        # Its own random stream: the intent draws do not shift the other tables' draws.
        intentions = Intentions(Random(f"intent-{rng_seed}"), catalog, buyers, intent_log)
        builder = OrderBuilder(rng, catalog, anchor, intentions)
        per_flush = min(_ORDERS_PER_FLUSH, max(1, -(-len(drafts) // _MIN_FLUSHES)))
        writer.report("orders", 0, len(drafts))
        for done, draft in enumerate(drafts, start=1):
            builder.add(draft)
            if builder.pending_orders >= per_flush or done == len(drafts):
                for name, rows in builder.drain():
                    await writer.insert(name, rows, report=False)
                writer.report("orders", done, len(drafts))

        await record_webhook_scans(conn)
        reviews, review_events = await build_reviews(conn, Random(f"reviews-{rng_seed}"), anchor)
        await writer.insert("reviews", reviews)
        await writer.insert("order_events", review_events, report=False)
        await number_events_in_time_order(conn)

        tags = intentions.merge_tags(build_tags(rng, catalog, buyers, anchor))
        await writer.insert("tagged_items", tags)
        views = intentions.merge_views(build_views(rng, catalog, buyers, anchor))
        await writer.insert("product_views", views)
        recommendations = build_recommendations(
            rng, catalog, buyers, builder.bought, tags, views, anchor
        )
        await writer.insert("recommendations", recommendations)
        await fix_sequences(conn)

    n = writer.counts
    return SeedReport(
        users=n["users"],
        shops=n["shops"],
        products=n["products"],
        orders=n["orders"],
        order_items=n["order_items"],
        order_events=n["order_events"],
        payments=n["payments"],
        shipments=n["shipments"],
        tagged_items=n["tagged_items"],
        product_views=n["product_views"],
        demo_handle=DEMO_HANDLE,
        payment_methods=n["payment_methods"],
        shipment_events=n["shipment_events"],
        recommendations=n["recommendations"],
        reviews=n["reviews"],
    )
