"""Reviews of completed orders' lines, so Product.rating and Product.reviews have
something to show, and a REVIEW_POSTED event on each order's timeline for each.

Read back from the orders already written, with a random stream of its own (so the
other tables' draws do not move), and ids assigned after the highest there are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.seed.writer import Row, table
from domain import reviews as rules
from domain.order_events import OrderEventKind
from domain.order_status import Actor, OrderStatus

# The share of completed orders' lines their buyers reviewed.
REVIEWED_SHARE = 0.6
_WORDS: dict[int, tuple[str, ...]] = {
    1: ("Broke in a week.", "Not as pictured.", "Would not buy again."),
    2: ("Disappointing.", "Smaller than I expected.", "Does the job, barely."),
    3: ("It's fine.", "Okay for the price.", "Average, nothing special."),
    4: ("Good value.", "Works well, quick delivery.", "Nice, would buy again."),
    5: ("Love it!", "Exactly what I wanted.", "Great quality, arrived fast. 🙂"),
}


async def build_reviews(
    conn: AsyncConnection, rng: Random, now: datetime
) -> tuple[list[Row], list[Row]]:
    """(reviews, their REVIEW_POSTED events) for about REVIEWED_SHARE of the completed
    orders' lines; each product has a quality its ratings gather around."""
    items, orders, events = table("order_items"), table("orders"), table("order_events")
    rows = (
        await conn.execute(
            select(
                items.c.id,
                items.c.order_id,
                items.c.product_id,
                orders.c.user_id,
                orders.c.updated_at,
                orders.c.version,
                orders.c.placed_at,
            )
            .join(orders, orders.c.id == items.c.order_id)
            .where(orders.c.status.in_([s.value for s in rules.REVIEWABLE_STATUSES]))
            .order_by(items.c.id)
        )
    ).all()
    next_event = int(await conn.scalar(select(func.coalesce(func.max(events.c.id), 0))) or 0) + 1
    # Each buyer's newest completed order is left to review (they just received it):
    # the first order of their TO_REVIEW list has every line to rate.
    newest: dict[int, tuple[datetime, int]] = {}
    for _, order_id, _, user_id, _, _, placed_at in rows:
        newest[user_id] = max(newest.get(user_id, (placed_at, order_id)), (placed_at, order_id))
    left = {order_id for _, order_id in newest.values()}
    quality: dict[int, float] = {}
    reviews: list[Row] = []
    posted_events: list[Row] = []
    for item_id, order_id, product_id, user_id, completed_at, version, _ in rows:
        if rng.random() >= REVIEWED_SHARE or order_id in left:
            continue
        if completed_at + timedelta(minutes=10) > now:
            continue
        mean = quality.setdefault(product_id, rng.uniform(2.5, 4.9))
        rating = min(rules.MAX_RATING, max(rules.MIN_RATING, round(rng.gauss(mean, 0.9))))
        posted_at = min(now, completed_at + timedelta(seconds=rng.randint(600, 10 * 86_400)))
        edited = rng.random() < 0.1 and posted_at + timedelta(days=1) < now
        review_id = len(reviews) + 1
        reviews.append(
            {
                "id": review_id,
                "order_item_id": item_id,
                "order_id": order_id,
                "product_id": product_id,
                "user_id": user_id,
                "rating": rating,
                "text": rng.choice(_WORDS[rating]) if rng.random() < 0.8 else "",
                "posted_at": posted_at,
                "edited_at": posted_at + timedelta(days=1) if edited else None,
            }
        )
        posted_events.append(
            {
                "id": next_event,
                "order_id": order_id,
                "from_status": OrderStatus.COMPLETED.value,
                "to_status": OrderStatus.COMPLETED.value,
                "order_version": version,
                "actor": Actor.BUYER.value,
                "note": None,
                "occurred_at": posted_at,
                "kind": OrderEventKind.REVIEW_POSTED.value,
                "subject_id": review_id,
            }
        )
        next_event += 1
    return reviews, posted_events
