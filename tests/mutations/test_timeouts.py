"""The system's timeouts, driven by an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from db.engine import SessionFactory
from db.models import Order, OrderEvent, Product
from domain.order_status import OrderStatus
from resolvers.context import Context, Rules
from resolvers.mutations.timeouts import apply_timeouts
from tests.factories import BASE_TIME, make_order, make_product, make_shop, make_user

RULES = Rules(unpaid_timeout=timedelta(minutes=30), receipt_window=timedelta(days=7))


def at(sessions: SessionFactory, moment: datetime) -> Context:
    return Context.for_request(viewer_id=None, sessions=sessions, rules=RULES, clock=lambda: moment)


async def _state(sessions: SessionFactory, order: Order) -> tuple[str, str | None, int]:
    async with sessions() as session:
        row = await session.get(Order, order.id)
        assert row is not None
        return row.status, row.cancel_reason, row.version


async def test_unpaid_orders_expire_after_the_timeout_and_restock(
    sessions: SessionFactory,
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    placed = BASE_TIME
    old = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], placed_at=placed, quantity=2
    )
    fresh = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[product],
        placed_at=placed + timedelta(minutes=20),
    )
    # 29 minutes: nothing is due yet.
    report = await apply_timeouts(at(sessions, placed + timedelta(minutes=29)))
    assert (report.cancelled, report.completed) == (0, 0)
    report = await apply_timeouts(at(sessions, placed + timedelta(minutes=31)))
    assert (report.cancelled, report.completed) == (1, 0)
    assert await _state(sessions, old) == ("CANCELLED", "PAYMENT_FAILED", 2)
    assert (await _state(sessions, fresh))[0] == "UNPAID"
    async with sessions() as session:
        event = (
            (
                await session.execute(
                    select(OrderEvent)
                    .where(OrderEvent.order_id == old.id)
                    .order_by(OrderEvent.id.desc())
                )
            )
            .scalars()
            .first()
        )
        stock = (await session.get(Product, product.id)).stock
    assert event is not None
    assert (event.from_status, event.to_status, event.actor) == ("UNPAID", "CANCELLED", "SYSTEM")
    assert event.order_version == 2
    # The factory did not take stock; the cancellation gives the 2 units back.
    assert stock == 7
    # A second sweep at the same moment finds nothing more to do.
    report = await apply_timeouts(at(sessions, placed + timedelta(minutes=31)))
    assert (report.cancelled, report.completed) == (0, 0)


async def test_delivered_orders_complete_after_the_window(sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    delivered = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.DELIVERED
    )
    in_transit = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.IN_TRANSIT
    )
    async with sessions() as session:
        row = await session.get(Order, delivered.id)
        assert row is not None
        delivered_at = row.updated_at
    report = await apply_timeouts(at(sessions, delivered_at + timedelta(days=6)))
    assert report.completed == 0
    report = await apply_timeouts(at(sessions, delivered_at + timedelta(days=7, minutes=1)))
    assert report.completed == 1
    status, _, version = await _state(sessions, delivered)
    assert status == "COMPLETED"
    assert version == delivered.version + 1
    assert (await _state(sessions, in_transit))[0] == "IN_TRANSIT"
