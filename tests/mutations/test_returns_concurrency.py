"""Racing return steps, on SQLite and PostgreSQL: one refund, units counted once.

The requests run concurrently in one event loop through the ASGI transport; on
PostgreSQL each holds its own pooled connection, so the order row's lock really
contends (every return step takes it first).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import OrderEvent, OrderReturn, Payment, ReturnLine
from tests.conftest import GraphQLClient
from tests.mutations.returns_helpers import codes, delivered, on_return, read, request
from tests.mutations.test_transitions import Shopfront

ROUNDS = 3


async def _race(
    gql: GraphQLClient, sessions: SessionFactory, shop: Shopfront
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    # Three units of one line: the first return takes two and is on its way back.
    order = await delivered(gql, sessions, shop, quantities=(3,))
    order_id, item = order["id"], order["items"][0]["id"]
    return_id = (await request(gql, shop.buyer, order_id, [(item, 2)]))["orderReturn"]["id"]
    await on_return(gql, "approveReturn", shop.seller, return_id)
    await on_return(gql, "shipReturn", shop.buyer, return_id, carrier="UPS", trackingNumber="1Z")

    # The seller's "received" twice (a double click), racing the buyer's second request
    # for the last unit, twice (two devices, no key).
    results = await asyncio.gather(
        on_return(gql, "receiveReturn", shop.seller, return_id),
        request(gql, shop.buyer, order_id, [(item, 1)]),
        on_return(gql, "receiveReturn", shop.seller, return_id),
        request(gql, shop.buyer, order_id, [(item, 1)]),
    )
    receives, requests = [results[0], results[2]], [results[1], results[3]]
    return receives, requests, await read(gql, order_id, shop.buyer)


async def test_received_racing_a_second_request_and_a_duplicate(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions, stock=3 * ROUNDS)
    for _ in range(ROUNDS):
        receives, requests, order = await _race(gql, sessions, shop)

        won = [r for r in receives if not r["userErrors"]]
        assert len(won) == 1, receives
        assert won[0]["orderReturn"]["status"] == "REFUNDED"
        (lost,) = [r for r in receives if r["userErrors"]]
        assert codes(lost) == [("INVALID_TRANSITION", None)]

        asked = [r for r in requests if not r["userErrors"]]
        assert len(asked) == 1, requests
        (refused,) = [r for r in requests if r["userErrors"]]
        assert codes(refused) == [("NOT_RETURNABLE", ["input", "lines", "0", "quantity"])]

        # One refund, of the first return only; the units are counted once.
        assert [p["status"] for p in order["payments"]] == ["CAPTURED", "PARTIALLY_REFUNDED"]
        assert [r["status"] for r in order["returns"]] == ["REFUNDED", "REQUESTED"]
        assert sum(line["quantity"] for r in order["returns"] for line in r["lines"]) == 3
        assert "REQUEST_RETURN" not in order["availableActions"]

    async with sessions() as session:
        refunds = (
            await session.execute(select(Payment).where(col(Payment.status) != "CAPTURED"))
        ).scalars()
        paid = list(refunds)
        returns = list((await session.execute(select(OrderReturn))).scalars())
        lines = list((await session.execute(select(ReturnLine))).scalars())
        refunded_events = (
            await session.execute(select(OrderEvent).where(col(OrderEvent.kind) == "REFUNDED"))
        ).scalars()
        events = list(refunded_events)
    assert len(paid) == ROUNDS
    assert sorted(r.refund_payment_id for r in returns if r.refund_payment_id) == sorted(
        p.id for p in paid
    )
    assert len(returns) == len(lines) == 2 * ROUNDS
    assert sorted(e.subject_id for e in events) == sorted(p.id for p in paid)
