"""Racing return steps, on SQLite and PostgreSQL: one refund, units counted once.

The requests run concurrently in one event loop through the ASGI transport; on
PostgreSQL each holds its own pooled connection, so the order row's lock really
contends (every return step takes it first). A carrier's delivery of a scan of the same
order, sent twice at once, races them too: the scan is recorded once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import col, select

from app.settings import Settings
from db.engine import SessionFactory
from db.models import OrderEvent, OrderReturn, Payment, ReturnLine, ShipmentEvent
from tests.conftest import TEST_SECRET, GraphQLClient
from tests.mutations.returns_helpers import codes, delivered, on_return, read, request
from tests.mutations.test_transitions import Shopfront
from tests.webhooks.test_carrier_webhook import SECRETS, post, scan, signed

ROUNDS = 3


@pytest.fixture
def settings() -> Settings:
    """The app the race runs against takes the carriers' signed scans too."""
    return Settings(
        env="test",
        jwt_secret=TEST_SECRET,
        database_url="sqlite:///unused.db",
        carrier_webhook_secrets=SECRETS,
    )


async def _race(
    gql: GraphQLClient, sessions: SessionFactory, shop: Shopfront, round_: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any], dict[str, Any]]:
    # Three units of one line: the first return takes two and is on its way back.
    tracking = f"1ZRACE{round_:04d}"
    order = await delivered(gql, sessions, shop, quantities=(3,), tracking=tracking)
    order_id, item = order["id"], order["items"][0]["id"]
    return_id = (await request(gql, shop.buyer, order_id, [(item, 2)]))["orderReturn"]["id"]
    await on_return(gql, "approveReturn", shop.seller, return_id)
    await on_return(gql, "shipReturn", shop.buyer, return_id, carrier="UPS", trackingNumber="1Z")

    # The seller's "received" twice (a double click), racing the buyer's second request
    # for the last unit, twice (two devices, no key), and the carrier's late scan of the
    # parcel, delivered twice at once (its retry overtaking the first).
    body, headers = signed([scan(tracking, "DELIVERED", f"{tracking}-late")])
    results = await asyncio.gather(
        on_return(gql, "receiveReturn", shop.seller, return_id),
        request(gql, shop.buyer, order_id, [(item, 1)]),
        post(gql.http, body, headers),
        on_return(gql, "receiveReturn", shop.seller, return_id),
        request(gql, shop.buyer, order_id, [(item, 1)]),
        post(gql.http, body, headers),
    )
    receives, requests = [results[0], results[3]], [results[1], results[4]]
    deliveries = [results[2], results[5]]
    return receives, requests, deliveries, await read(gql, order_id, shop.buyer)


async def test_received_racing_a_second_request_and_a_duplicate(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await Shopfront.make(sessions, stock=3 * ROUNDS)
    for round_ in range(ROUNDS):
        receives, requests, deliveries, order = await _race(gql, sessions, shop, round_)

        # The scan is recorded by one delivery; its copy is a replay, or a duplicate.
        applied = [
            d
            for d in deliveries
            if d.status_code == 200 and d.json()["scans"][0]["result"] == "APPLIED"
        ]
        assert len(applied) == 1, [d.text for d in deliveries]
        (other,) = [d for d in deliveries if d is not applied[0]]
        assert _result(other) in (None, "DUPLICATE"), other.text

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
        late_scans = (
            await session.execute(
                select(ShipmentEvent).where(col(ShipmentEvent.carrier_scan_id).like("%-late"))
            )
        ).scalars()
        scans = list(late_scans)
        scan_events = (
            await session.execute(select(OrderEvent).where(col(OrderEvent.kind) == "CARRIER_SCAN"))
        ).scalars()
        scan_subjects = [e.subject_id for e in scan_events]
    assert len(paid) == ROUNDS
    assert sorted(r.refund_payment_id for r in returns if r.refund_payment_id) == sorted(
        p.id for p in paid
    )
    assert len(returns) == len(lines) == 2 * ROUNDS
    assert sorted(e.subject_id for e in events) == sorted(p.id for p in paid)
    # Each round's late scan once, and one event naming it.
    assert len(scans) == ROUNDS
    for late in scans:
        assert scan_subjects.count(late.id) == 1


def _result(delivery: Any) -> str | None:
    """The first scan's result in a webhook's answer; None for a refused delivery."""
    if delivery.status_code != 200:
        return None
    result: str = delivery.json()["scans"][0]["result"]
    return result
