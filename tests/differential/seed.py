"""The differential tests' data, made for the rules' edges.

As tests/queries/test_sql_plans.py's: orders in every status in two shops, instants with
and without microseconds, currencies with 0 and 3 decimals, scores whose JSON differs
between languages, text with quotes, backslashes and emoji, a payment made with somebody
else's card, dismissed recommendations; and people in every role: a buyer, the seller of
the buyer's shop (who also buys, from their own shop too), an operator (who buys too),
another buyer, and a stranger who is not signed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.engine import SessionFactory
from db.models import Order
from domain.order_status import OrderStatus
from tests.factories import (
    make_order,
    make_payment,
    make_payment_method,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
    make_view,
    record_steps,
)


async def seed(sessions: SessionFactory) -> dict[str, int | None]:
    """The people and their data; the ids of the four viewers (the stranger has none)."""
    buyer = await make_user(sessions, handle='ada "the buyer"')
    seller = await make_user(sessions, handle="sam-the-seller", role="seller")
    operator = await make_user(sessions, handle="olga-operator", role="operator")
    other = await make_user(sessions, handle="otto-other-buyer")
    other_seller = await make_user(sessions, role="seller")
    own_shop = await make_shop(sessions, owner=seller, name='Sam\'s "Own" Shop \\ 🛍')
    other_shop = await make_shop(sessions, owner=other_seller, name="Garden")
    tea = await make_product(sessions, shop=own_shop, title='Tea "Matcha" — 抹茶 \\ 🍵')
    yen = await make_product(sessions, shop=other_shop, price_minor=500, currency="JPY")
    dinar = await make_product(sessions, shop=other_shop, price_minor=12345, currency="KWD")
    cheap = await make_product(sessions, shop=own_shop, price_minor=5, category="kitchen")
    spare = await make_product(sessions, shop=other_shop, price_minor=0, stock=0)
    card = await make_payment_method(sessions, user=buyer)
    await make_payment_method(sessions, user=buyer, last4="1881", is_default=False)
    foreign_card = await make_payment_method(sessions, user=other, last4="0005")
    base = datetime(2026, 10, 3, 9, 30, 15, 123400, tzinfo=UTC)
    orders: list[Order] = []
    statuses = list(OrderStatus)
    for i, status in enumerate(statuses + statuses[:3]):
        shop, products = [(own_shop, [tea, cheap]), (other_shop, [yen]), (other_shop, [dinar])][
            i % 3
        ]
        micro = [base, base.replace(microsecond=0), base.replace(microsecond=1)][i % 3]
        orders.append(
            await make_order(
                sessions,
                buyer=buyer,
                shop=shop,
                products=products,
                status=status,
                placed_at=micro + timedelta(days=i),
                payment_method=card,
                quantity=1 + i % 2,
            )
        )
    await make_payment(sessions, order=orders[0], status="FAILED", payment_method=foreign_card)
    for order in orders:
        if order.status == OrderStatus.CANCELLED:
            await make_payment(sessions, order=order, status="REFUNDED", payment_method=card)
    # The seller (also from their own shop: buyer and seller of one order), the operator
    # and the other buyer buy too: their own Order Centers.
    for someone, shop, status in (
        (seller, other_shop, OrderStatus.IN_TRANSIT),
        (seller, own_shop, OrderStatus.AWAITING_SHIPMENT),  # the same instant: a tie
        (operator, own_shop, OrderStatus.IN_TRANSIT),
        (other, own_shop, OrderStatus.UNPAID),
    ):
        await make_order(
            sessions,
            buyer=someone,
            shop=shop,
            products=[tea] if shop is own_shop else [yen],
            status=status,
            placed_at=base + timedelta(hours=5),
        )
    for j, product in enumerate([tea, yen, dinar, cheap]):
        if j % 2 == 0:
            await make_tag(sessions, user=buyer, product=product)
        await make_view(sessions, user=buyer, product=product, viewed_at=base + timedelta(hours=j))
    await make_tag(sessions, user=seller, product=yen)
    for score, product, based_on in [
        (1.0, yen, tea),
        (1e-05, dinar, None),
        (0.1 + 0.2, cheap, yen),
        (0.5, tea, None),
    ]:
        await make_recommendation(
            sessions, user=buyer, product=product, score=score, based_on=based_on
        )
    await make_recommendation(sessions, user=buyer, product=spare, score=0.9, dismissed=True)
    await make_recommendation(sessions, user=other, product=tea, score=0.7)
    # Payment and scan events on the timelines, each naming its row.
    await record_steps(sessions)
    return {"buyer": buyer.id, "seller": seller.id, "operator": operator.id, "stranger": None}
