"""Racing requests, on SQLite and PostgreSQL: stock never oversold, one winner per change.

The requests run concurrently in one event loop through the ASGI transport; they
interleave at every await, and on PostgreSQL each holds its own pooled connection, so
the row locks and conditional updates really contend.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import OrderItem, Payment, Shipment
from domain.order_status import OrderStatus
from tests.conftest import GraphQLClient
from tests.factories import make_order, make_payment_method, make_product, make_shop, make_user
from tests.mutations.test_place_order import (
    db_state,
    errors_of,
    event_versions,
    gid,
    line,
    order_row,
    payment_statuses,
    pk_of,
    place,
    run,
    stock_of,
)

BUYERS = 8
UNITS = 3
ROUNDS = 10
LOSING_CODES = {"INVALID_TRANSITION", "CONFLICT"}


def _split(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    won = [r for r in results if not r["userErrors"]]
    lost = [r for r in results if r["userErrors"]]
    return won, lost


def _lost_cleanly(payload: dict[str, Any]) -> bool:
    return payload["order"] is None and {e["code"] for e in payload["userErrors"]} <= LOSING_CODES


async def test_buyers_racing_for_the_last_units(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, price_minor=1500, stock=UNITS)
    buyers = [await make_user(sessions) for _ in range(BUYERS)]
    methods = [await make_payment_method(sessions, user=b) for b in buyers]

    results = await asyncio.gather(
        *(
            place(gql, buyer, [line(product)], key=f"buy-{i}", method=method)
            for i, (buyer, method) in enumerate(zip(buyers, methods, strict=True))
        )
    )

    won, lost = _split(list(results))
    assert len(won) == UNITS
    assert len(lost) == BUYERS - UNITS
    for payload in lost:
        assert payload["order"] is None
        assert errors_of(payload) == [("OUT_OF_STOCK", ["input", "items", "0", "quantity"])]
    assert len({p["order"]["id"] for p in won}) == UNITS
    assert all(p["order"]["status"] == "AWAITING_SHIPMENT" for p in won)

    assert await stock_of(sessions, product) == 0
    state = await db_state(sessions)
    assert state["orders"] == UNITS
    assert state["idempotency_keys"] == UNITS
    async with sessions() as session:
        sold = (await session.execute(select(func.sum(col(OrderItem.quantity))))).scalar_one()
    assert sold == UNITS
    # Only the winners were charged.
    assert await payment_statuses(sessions) == ["CAPTURED"] * UNITS


async def test_cancel_and_ship_at_once_have_one_winner(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop, stock=100)
    outcomes: list[str] = []

    for _ in range(ROUNDS):
        order = await make_order(
            sessions,
            buyer=buyer,
            shop=shop,
            products=[product],
            status=OrderStatus.AWAITING_SHIPMENT,
        )
        order_id = gid("Order", order)
        stock = await stock_of(sessions, product)

        cancelled, shipped = await asyncio.gather(
            run(gql, "cancelOrder", {"orderId": order_id}, user=buyer),
            run(
                gql,
                "shipOrder",
                {"orderId": order_id, "carrier": "UPS", "trackingNumber": "1ZRACE"},
                user=seller,
            ),
        )

        won, lost = _split([cancelled, shipped])
        assert len(won) == 1, (cancelled, shipped)
        assert len(lost) == 1
        assert _lost_cleanly(lost[0]), lost[0]
        assert await event_versions(sessions, pk_of(order_id)) == [1, 2, 3]
        row = await order_row(sessions, pk_of(order_id))
        assert row.version == 3
        async with sessions() as session:
            shipments = (
                await session.execute(
                    select(func.count())
                    .select_from(Shipment)
                    .where(col(Shipment.order_id) == pk_of(order_id))
                )
            ).scalar_one()
        refunds = (await payment_statuses(sessions, pk_of(order_id))).count("REFUNDED")
        if won[0] is cancelled:
            outcomes.append("cancel")
            assert row.status == "CANCELLED"
            assert (shipments, refunds) == (0, 1)
            assert await stock_of(sessions, product) == stock + 1
        else:
            outcomes.append("ship")
            assert row.status == "AWAITING_COLLECTION"
            assert (shipments, refunds) == (1, 0)
            assert await stock_of(sessions, product) == stock
    assert len(outcomes) == ROUNDS


async def test_buyer_and_seller_cancelling_at_once_refund_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    seller = await make_user(sessions, role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)
    placed = await place(gql, buyer, [line(product, 2)], method=method)
    order_id = placed["order"]["id"]
    assert await stock_of(sessions, product) == 3

    results = await asyncio.gather(
        run(gql, "cancelOrder", {"orderId": order_id}, user=buyer),
        run(gql, "cancelOrder", {"orderId": order_id}, user=seller),
    )

    won, lost = _split(list(results))
    assert len(won) == 1
    assert len(lost) == 1
    assert _lost_cleanly(lost[0]), lost[0]
    assert await payment_statuses(sessions) == ["CAPTURED", "REFUNDED"]
    assert await stock_of(sessions, product) == 5
    assert await event_versions(sessions, pk_of(order_id)) == [1, 2, 3]


async def test_two_payments_at_once_capture_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    card = await make_payment_method(sessions, user=buyer)
    other_card = await make_payment_method(sessions, user=buyer, is_default=False)

    for round_ in range(ROUNDS // 2):
        order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
        order_id = gid("Order", order)

        results = await asyncio.gather(
            *(
                run(
                    gql,
                    "payOrder",
                    {
                        "orderId": order_id,
                        "paymentMethodId": gid("PaymentMethod", method),
                        "idempotencyKey": f"pay-{round_}-{n}",
                    },
                    user=buyer,
                )
                for n, method in enumerate((card, other_card))
            )
        )

        won, lost = _split(list(results))
        assert len(won) == 1, results
        assert len(lost) == 1
        assert _lost_cleanly(lost[0]), lost[0]
        assert won[0]["order"]["status"] == "AWAITING_SHIPMENT"
        assert await payment_statuses(sessions, pk_of(order_id)) == ["CAPTURED"]
        assert await event_versions(sessions, pk_of(order_id)) == [1, 2]
    async with sessions() as session:
        charged = (await session.execute(select(func.count()).select_from(Payment))).scalar_one()
    assert charged == ROUNDS // 2


async def test_orders_naming_products_in_opposite_orders_do_not_deadlock(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    """Stock rows are locked in one order by every writer, whatever the lines' order."""
    shop = await make_shop(sessions)
    first = await make_product(sessions, shop=shop, stock=100)
    second = await make_product(sessions, shop=shop, stock=100)
    ann, bob, cat = [await make_user(sessions) for _ in range(3)]
    rounds = ROUNDS // 2

    for round_ in range(rounds):
        to_cancel = await place(gql, cat, [line(second), line(first)], key=f"cat-{round_}")
        results = await asyncio.gather(
            place(gql, ann, [line(first), line(second)], key=f"ann-{round_}"),
            place(gql, bob, [line(second), line(first)], key=f"bob-{round_}"),
            run(gql, "cancelOrder", {"orderId": to_cancel["order"]["id"]}, user=cat),
        )
        assert [r["userErrors"] for r in results] == [[], [], []]

    # Each round: Ann and Bob took one of each; Cat's order was placed and cancelled.
    assert await stock_of(sessions, first) == 100 - 2 * rounds
    assert await stock_of(sessions, second) == 100 - 2 * rounds


async def test_more_buyers_at_once_than_pooled_connections(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    # Writers waiting for their turn must not hold every pooled connection: the one
    # whose turn it is still needs connections to read (a stall until the pool's
    # 30 s timeout, then errors, was what 16 clients got on SQLite).
    buyers_count = 24
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, price_minor=900, stock=buyers_count)
    buyers = [await make_user(sessions) for _ in range(buyers_count)]
    methods = [await make_payment_method(sessions, user=b) for b in buyers]

    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                place(gql, buyer, [line(product)], key=f"crowd-{i}", method=method)
                for i, (buyer, method) in enumerate(zip(buyers, methods, strict=True))
            )
        ),
        25,
    )

    assert [r["userErrors"] for r in results] == [[]] * buyers_count
    assert all(r["order"]["status"] == "AWAITING_SHIPMENT" for r in results)
    assert await stock_of(sessions, product) == 0
    assert await payment_statuses(sessions) == ["CAPTURED"] * buyers_count
